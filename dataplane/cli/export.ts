import { kindNames, type Kind } from "../../model";
import { AdminClient, connection } from "./admin-client";
import { out, runCommand } from "./command";
import { serialize, toDocument } from "./config-document";
import { EXIT, UsageError } from "./exit-codes";
import { pulumiProgram } from "./pulumi-program";

export const CONNECTION_HELP = `  --admin-url URL  the admin API (default: BALLAST_ADMIN_URL, else http://127.0.0.1:9180)
  --token TOKEN    the admin token (default: BALLAST_ADMIN_TOKEN; prefer the variable: a flag shows in ps)`;

export const CONNECTION_OPTIONS = { "admin-url": { type: "string" }, token: { type: "string" } } as const;

/** Every object of every kind, from the admin API. */
export async function fetchConfiguration(client: AdminClient): Promise<{ [K in Kind]: Record<string, unknown>[] }> {
  const entries = await Promise.all(kindNames.map(async (kind) => [kind, (await client.get<{ items: Record<string, unknown>[] }>(`/v1/${kind}`)).items] as const));
  return Object.fromEntries(entries) as { [K in Kind]: Record<string, unknown>[] };
}

/** `ballast export`: the whole configuration as a document on stdout. */
export function exportCommand(args: string[]): Promise<number> {
  return runCommand(
    {
      name: "export",
      usage: "[--format json|yaml|pulumi] [--admin-url URL] [--token TOKEN]",
      help: `Writes the whole configuration of a data plane to stdout as one document, for backup and
for moving it to another data plane (\`ballast import\`). Objects without their versions, in
dependency order. It holds the TLS listeners' private keys: keep it as secret as the token.

  --format F       json (default) or yaml; or pulumi: a TypeScript module declaring every object
                   as a resource of the Pulumi sdk with \`adopt: true\`, to take the data plane's
                   objects over from a Pulumi program (what \`pulumi import\` cannot do for them)
${CONNECTION_HELP}`,
      options: { format: { type: "string" }, ...CONNECTION_OPTIONS },
      positionals: 0,
    },
    args,
    async (values) => {
      const format = (values.format as string | undefined) ?? "json";
      if (format !== "json" && format !== "yaml" && format !== "pulumi") throw new UsageError(`--format '${format}' is not json, yaml or pulumi`);
      const { url, token } = connection(values);
      const doc = toDocument(await fetchConfiguration(new AdminClient(url, token)));
      out(format === "pulumi" ? pulumiProgram(doc, url).source : serialize(doc, format));
      return EXIT.ok;
    },
  );
}
