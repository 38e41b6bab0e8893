import { describe, expect, it } from "vitest";
import { SESSION_COOKIE, SESSION_SECONDS, Sessions, cookieValue } from "../../../dataplane/admin/session";

const TOKEN = "status-page-token-0123456789";

describe("Sessions", () => {
  it("accepts the cookie it issued, and it does not contain the token", () => {
    const sessions = new Sessions(TOKEN);
    const value = sessions.issue();
    expect(value).not.toContain(TOKEN);
    expect(sessions.valid(`other=1; ${SESSION_COOKIE}=${value}`)).toBe(true);
  });

  it("sets an HttpOnly, SameSite=Strict cookie that expires with the session", () => {
    const header = new Sessions(TOKEN).setCookie();
    expect(header).toMatch(new RegExp(`^${SESSION_COOKIE}=\\d+\\.[A-Za-z0-9_-]{43}; `));
    expect(header).toContain("HttpOnly");
    expect(header).toContain("SameSite=Strict");
    expect(header).toContain(`Max-Age=${SESSION_SECONDS}`);
  });

  it("refuses a session past its expiry", () => {
    let now = 1_000_000_000_000;
    const sessions = new Sessions(TOKEN, () => now);
    const cookie = `${SESSION_COOKIE}=${sessions.issue()}`;
    now += (SESSION_SECONDS - 1) * 1000;
    expect(sessions.valid(cookie)).toBe(true);
    now += 1000;
    expect(sessions.valid(cookie)).toBe(false);
  });

  it("refuses a session whose expiry was pushed forward, a forged MAC, garbage and no cookie", () => {
    const sessions = new Sessions(TOKEN);
    const [expiry, mac] = sessions.issue().split(".") as [string, string];
    expect(sessions.valid(`${SESSION_COOKIE}=${Number(expiry) + 3600}.${mac}`)).toBe(false);
    expect(sessions.valid(`${SESSION_COOKIE}=${expiry}.${"A".repeat(43)}`)).toBe(false);
    expect(sessions.valid(`${SESSION_COOKIE}=${TOKEN}`)).toBe(false);
    expect(sessions.valid(undefined)).toBe(false);
  });

  it("ends every session when the token changes", () => {
    const value = new Sessions(TOKEN).issue();
    expect(new Sessions(`${TOKEN}-rotated`).valid(`${SESSION_COOKIE}=${value}`)).toBe(false);
  });

  it("is valid on another replica with the same token (no server-side state)", () => {
    const value = new Sessions(TOKEN).issue();
    expect(new Sessions(TOKEN).valid(`${SESSION_COOKIE}=${value}`)).toBe(true);
  });
});

describe("cookieValue", () => {
  it("finds a cookie among others by exact name", () => {
    expect(cookieValue("a=1; ballast_session=x.y; b=2", "ballast_session")).toBe("x.y");
    expect(cookieValue("xballast_session=1", "ballast_session")).toBeUndefined();
  });
});
