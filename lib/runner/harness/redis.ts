/** ioredis, bundled on its own so a parked host can load it before it knows its module. */
export { Redis, type RedisOptions } from "ioredis";
