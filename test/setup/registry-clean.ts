// Test files share their worker's modules (isolate: false in vitest.config.ts), so a voice
// connection one file leaves in the registry would be handed to the next file that joins the same
// guild. A file that leaves one fails here, and the connection is destroyed before the next file.
import { afterAll } from 'vitest';
import { getGroups, getVoiceConnections } from '../../src/gateway/registry.js';

afterAll(() => {
  const left: string[] = [];
  for (const group of getGroups()) {
    for (const [guild, connection] of getVoiceConnections(group)) {
      left.push(`${group}/${guild}`);
      connection.destroy();
    }
  }
  if (left.length > 0) throw new Error(`the file left voice connections in the registry: ${left.join(', ')}`);
});
