/*
 * What an API backend keeps in the store besides its jobs: the datasets
 * it uploaded, with the provider's expiry of each.
 */
#ifndef RFTD_STORE_PROVIDER_H
#define RFTD_STORE_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * The provider's id of the bytes `sha256` uploaded to `backend`, when it
 * is still there at `until` (an upload without expiry always is): 0 with
 * `remote_id` filled, or -ENOENT (none, or one expiring sooner), -EIO.
 */
int store_upload_get(struct store *st, const char *backend, const char *sha256,
		     const char *purpose, double until, char *remote_id,
		     size_t len);

/* Records an upload (replacing an earlier one of the same bytes);
 * `expires_at` <= 0: the provider keeps it. */
int store_upload_add(struct store *st, const char *backend, const char *sha256,
		     const char *remote_id, const char *path, long long bytes,
		     const char *purpose, double now, double expires_at);

/* Forgets an upload the provider no longer has. */
int store_upload_forget(struct store *st, const char *backend,
			const char *remote_id);

#endif
