/* An API backend's uploads, with their expiry, and its reads of a spec. */
#include "provider.h"

#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char sql_upload_get[] =
    "SELECT remote_id FROM files WHERE backend = ?1 AND sha256 = ?2"
    " AND purpose = ?3 AND (expires_at IS NULL OR expires_at > ?4);";
static const char sql_upload_add[] =
    "INSERT OR REPLACE INTO files (backend, sha256, remote_id, path, bytes,"
    " purpose, uploaded_at, expires_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);";

int
store_upload_get(struct store *st, const char *backend, const char *sha256,
		 const char *purpose, double until, char *remote_id, size_t len)
{
	sqlite3_stmt *s = stmt(st, sql_upload_get);
	int rc;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, backend);
	bind_text(s, 2, sha256);
	bind_text(s, 3, purpose);
	sqlite3_bind_double(s, 4, until);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(remote_id, len, "%s",
			 (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_fail(st, "upload lookup");
}

int
store_upload_add(struct store *st, const char *backend, const char *sha256,
		 const char *remote_id, const char *path, long long bytes,
		 const char *purpose, double now, double expires_at)
{
	sqlite3_stmt *s = stmt(st, sql_upload_add);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, backend);
	bind_text(s, 2, sha256);
	bind_text(s, 3, remote_id);
	bind_text(s, 4, path);
	sqlite3_bind_int64(s, 5, bytes);
	bind_text(s, 6, purpose);
	sqlite3_bind_double(s, 7, now);
	if (expires_at > 0)
		sqlite3_bind_double(s, 8, expires_at);
	else
		sqlite3_bind_null(s, 8);
	return stmt_done(st, s);
}

static const char sql_upload_forget[] =
    "DELETE FROM files WHERE backend = ?1 AND remote_id = ?2;";

int
store_upload_forget(struct store *st, const char *backend,
		    const char *remote_id)
{
	sqlite3_stmt *s = stmt(st, sql_upload_forget);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, backend);
	bind_text(s, 2, remote_id);
	return stmt_done(st, s);
}
