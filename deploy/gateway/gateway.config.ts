/**
 * The federation gateway: composes the hub and the providers' subgraphs into one graph.
 *
 * The supergraph is composed here, at start and again whenever a subgraph's schema changes, from
 * each subgraph's `_service { sdl }`; nothing is fetched from a registry. Every request a subgraph
 * gets carries the caller's `Authorization` header, so each subgraph sees who is asking: the hub
 * applies its access rules to what it returns and to every entity reference it resolves.
 *
 * SUBGRAPHS lists the subgraphs as `name=url` pairs, separated by spaces or commas.
 */
import { defineConfig } from '@graphql-hive/gateway';

const DEFAULT_SUBGRAPHS =
  'hub=http://127.0.0.1:8000/graphql homework=http://127.0.0.1:4001/graphql';

function subgraphs(listed: string): { name: string; url: string }[] {
  return listed
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((entry) => {
      const separator = entry.indexOf('=');
      if (separator < 1) {
        throw new Error(`SUBGRAPHS: expected name=url, got "${entry}"`);
      }
      return { name: entry.slice(0, separator), url: entry.slice(separator + 1) };
    });
}

export const gatewayConfig = defineConfig({
  supergraph: {
    type: 'dev',
    services: subgraphs(process.env.SUBGRAPHS || DEFAULT_SUBGRAPHS),
  },
  // Milliseconds between checks of the subgraphs' schemas; an unchanged set is not recomposed.
  pollingInterval: Number(process.env.SCHEMA_POLLING_MS || 10_000),
  propagateHeaders: {
    // Only the caller's token: the hub's development header, for one, must not pass through.
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get('authorization');
      return authorization ? { authorization } : {};
    },
  },
});
