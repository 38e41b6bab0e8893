import fs from "node:fs";
import { promisify } from "node:util";

/**
 * The file operations the store needs, as promises over node:fs's callback API. Not
 * node:fs/promises: loading it also loads readline and the REPL's history module, which an idle
 * data plane would hold for nothing (docs/benchmarks.md, Memory).
 */
export const open = promisify(fs.open);
export const close = promisify(fs.close);
export const fsync = promisify(fs.fsync);
export const writeFile = promisify(fs.writeFile);
export const readFile = promisify(fs.readFile);
export const readdir = promisify(fs.readdir);
export const rename = promisify(fs.rename);
export const unlink = promisify(fs.unlink);
export const mkdir = promisify(fs.mkdir);
