/**
 * Aborted once this process has been told to stop (SIGTERM/SIGINT). Retry loops of sinks give up
 * at once instead of holding the shutdown past its deadline: the batch they served is not
 * committed and is redelivered to the partition's next owner.
 */
export const processShutdown = new AbortController();
