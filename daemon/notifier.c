/* Placeholder until notifications land. */
#include "notifier.h"
#include "daemon.h"

int
notifier_open(struct daemon *d, char *err, size_t errlen)
{
	(void)d;
	(void)err;
	(void)errlen;
	return 0;
}

void
notifier_close(struct daemon *d)
{
	(void)d;
}

void
notifier_free(struct daemon *d)
{
	(void)d;
}

int
notifier_event(struct daemon *d, const char *type, cJSON *data)
{
	(void)d;
	(void)type;
	cJSON_Delete(data);
	return 0;
}
