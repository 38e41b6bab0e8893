import pino, { type Logger } from "pino";

/**
 * The one root logger of a data plane process; parts take `log.child({ component })`.
 * Objects first, then the message. The admin token is redacted wherever it could appear.
 */
export type { Logger };

export function createLogger(level: string = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization", "req.headers.authorization", "privateKey", "*.privateKey", "certificate.privateKey"],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything, for unit tests of parts. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
