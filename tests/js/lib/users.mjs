// The accounts every target server must have (tests/test_better_auth_client.py
// creates them in the Flask app, reference-server.mjs signs them up), one per
// test so that tests never see each other's sessions or password changes.
import { readFileSync } from "node:fs";

const data = JSON.parse(readFileSync(new URL("../users.json", import.meta.url), "utf8"));
export const PASSWORD = process.env.SESSIONAUTH_PASSWORD ?? data.password;
export const USERS = data.users;
