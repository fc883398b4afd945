/** A real redis-server per test file; the implementation is shared with the chaos benchmark. */
export * from '../../scripts/chaos/redisServer.js';
