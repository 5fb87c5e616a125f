/*
 * Default locations, shared by rftd and rftctl so that both find the same
 * socket without configuration.
 */
#ifndef RFTD_PATHS_H
#define RFTD_PATHS_H

/*
 * The control socket: $RUNTIME_DIRECTORY/control.sock under systemd, else
 * $XDG_RUNTIME_DIR/rftd/control.sock, else /run/rftd/control.sock for
 * root and /tmp/rftd-UID/control.sock for others.  Newly allocated.
 */
char *paths_default_socket(void);

/* The system service's socket, /run/rftd/control.sock. */
#define PATHS_SYSTEM_SOCKET "/run/rftd/control.sock"

/*
 * The database: $STATE_DIRECTORY/rftd.db under systemd, else
 * $XDG_STATE_HOME/rftd/rftd.db, else ~/.local/state/rftd/rftd.db.
 * Newly allocated.
 */
char *paths_default_database(void);

/*
 * The configuration file read when -c is not given: /etc/rftd/rftd.conf
 * for root, else $XDG_CONFIG_HOME/rftd/rftd.conf (~/.config/...).
 * Newly allocated.
 */
char *paths_default_config(void);

#endif
