/** The store: objects by kind, integrity rules, atomic persistence. */
export * from "./collections";
export * from "./integrity";
export * from "./state-file";
export * from "./store";
export * from "./config-store";
export * from "./plans";
export * from "./store-settings";
