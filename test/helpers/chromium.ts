// Finding the Chromium that scripts/ensure-chromium.sh installs (Debian's `chromium`), for the
// status page's browser test. Outside CI a missing Chromium skips that test with the reason; in CI
// (`CI` set) it never skips and `assertChromium` throws the reason, so the run fails.
import { accessSync, constants } from "node:fs";
import { inCI } from "./toolchain";

export interface ChromiumCheck {
  ok: boolean;
  path: string;
  reason: string;
  /** True only outside CI and when Chromium is missing. */
  skip: boolean;
}

export function findChromium(): ChromiumCheck {
  const path = process.env.BALLAST_CHROMIUM || "/usr/bin/chromium";
  try {
    accessSync(path, constants.X_OK);
    return { ok: true, path, reason: "", skip: false };
  } catch {
    const reason = `${path} is not an executable: run scripts/ensure-chromium.sh (installs Debian's chromium) or set BALLAST_CHROMIUM`;
    return { ok: false, path, reason, skip: !inCI() };
  }
}

export function assertChromium(check: ChromiumCheck): void {
  if (!check.ok) throw new Error(`chromium is required${inCI() ? " in CI" : ""}: ${check.reason}`);
}

/** Flags for headless Chromium as root in a container: no sandbox, no GPU, /tmp instead of a small /dev/shm. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check"];
