/** The store: objects by kind, integrity rules, atomic persistence. */
export * from "./collections";
export * from "./integrity";
export * from "./state-file";
export * from "./store";
