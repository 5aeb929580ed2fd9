/**
 * What the bench changes in the environment of the snapback commands it times: only
 * NODE_EXTRA_CA_CERTS is removed. When it is set, node reads and parses that whole CA bundle
 * before the first line of any script — 35 ms of every start on the bench machine, whose
 * sandbox sets it for its own proxy (`node -e 0`: 0.05 s with it, 0.015 s without). snapback's
 * systemd units and a cron job do not have it, and restic and btrbk, not being node programs,
 * would not pay for it, so leaving it in would charge snapback for the sandbox.
 */
export const SNAPBACK_ENV: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: undefined };
