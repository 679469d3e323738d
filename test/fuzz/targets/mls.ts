/**
 * DAVE opcodes 25-30 (src/dave/opcodes.ts) and the MLS codec under them (src/dave/mls/mls-codec.ts).
 * Each target names one public decode function, so a new MLS implementation only has to be
 * repointed here. Oracle: what decodes re-encodes to the input bytes (where an encoder exists).
 */
import { isVoxcordError } from '../../../src/errors.js';
import { MLS_CIPHERSUITE } from '../../../src/protocol/constants.js';
import {
  decodeAnnounceCommit,
  decodeCommitWelcome,
  decodeExternalSenderPackage,
  decodeKeyPackagePayload,
  decodeProposalsPayload,
  decodeWelcomePayload,
  encodeAnnounceCommit,
  encodeCommitWelcome,
  encodeExternalSenderPackage,
  encodeProposalsPayload,
  encodeWelcomePayload,
} from '../../../src/dave/opcodes.js';
import {
  concatBytes,
  encodeExternalSendersExtensionData,
  MlsCodecError,
  parseCommitWelcome,
  parseExternalSendersExtensionData,
  readKeyPackage,
  Reader,
  snowflakeToBE64,
} from '../../../src/dave/mls/mls-codec.js';
import { buildExternalAdd, buildExternalRemove } from '../../../src/dave/mls/external-proposal.js';
import { generateP256SigningKey, p256PointOf } from '../../../src/dave/mls/mls-sign.js';
import { buildKeyPackage, buildLeafNode, craftCommit, craftWelcome } from '../../server/dave/mls-fixtures.js';
import { hex, oracle } from '../engine.js';
import type { FuzzTarget } from '../engine.js';

const daveError = (err: unknown): boolean => isVoxcordError(err, 'DAVE_PROTOCOL_ERROR');
const codecError = (err: unknown): boolean => err instanceof MlsCodecError;
const GROUP = snowflakeToBE64('1234567890123456789');

/** Valid MLS byte strings shared by the targets (built once: P-256 signing is not free). */
export interface MlsCorpus {
  keyPackages: Uint8Array[];
  externalSender: Uint8Array;
  proposals: Uint8Array[];
  commits: Uint8Array[];
  welcome: Uint8Array;
}

let corpus: MlsCorpus | undefined;

export function mlsCorpus(): MlsCorpus {
  if (corpus !== undefined) return corpus;
  const signingKey = generateP256SigningKey();
  const keyPackages = ['111111111111111111', '222222222222222222'].map((userId) =>
    buildKeyPackage({ userId }),
  );
  const ctx = { groupId: GROUP, epoch: 3n, signingKey };
  const add = buildExternalAdd(ctx, keyPackages[0]!);
  const remove = buildExternalRemove(ctx, 1);
  const welcome = craftWelcome([new Uint8Array(32).fill(5)], MLS_CIPHERSUITE);
  const commit = craftCommit({ groupId: GROUP, epoch: 3n, senderLeaf: 0, entries: [{ ref: add.ref }] });
  const withPath = craftCommit({
    groupId: GROUP,
    epoch: 3n,
    senderLeaf: 1,
    entries: [{ ref: remove.ref }, { inlineRemove: 2 }],
    pathLeaf: buildLeafNode({ userId: '111111111111111111' }),
  });
  corpus = {
    keyPackages,
    externalSender: encodeExternalSenderPackage(p256PointOf(signingKey), Uint8Array.of(0)),
    proposals: [
      encodeProposalsPayload({ operation: 'append', messages: [add.message, remove.message] }),
      encodeProposalsPayload({ operation: 'revoke', refs: [add.ref, remove.ref] }),
    ],
    commits: [encodeCommitWelcome(commit, welcome), withPath],
    welcome,
  };
  return corpus;
}

const same = (a: Uint8Array, b: Uint8Array, what: string): void =>
  oracle(hex(a) === hex(b), `${what} does not re-encode`);

/** One public decode function: seeds, documented error, re-encode oracle. */
function decodeTarget(
  name: string,
  module: string,
  seeds: () => Uint8Array[],
  isTypedRejection: (err: unknown) => boolean,
  run: (input: Uint8Array) => void,
): FuzzTarget {
  return {
    name,
    modules: [module],
    create: () => ({
      seeds: seeds(),
      isTypedRejection,
      run(input) {
        run(input);
        return 'ok';
      },
    }),
  };
}

export const mlsTargets: FuzzTarget[] = [
  decodeTarget(
    'dave-op25-external-sender',
    'src/dave/opcodes.ts decodeExternalSenderPackage',
    () => [mlsCorpus().externalSender],
    daveError,
    (input) => {
      const s = decodeExternalSenderPackage(input);
      same(encodeExternalSenderPackage(s.signatureKey, s.credential.identity), input, 'op 25');
      same(s.encoded, input, 'op 25 encoded field');
    },
  ),
  decodeTarget(
    'dave-op26-key-package',
    'src/dave/opcodes.ts decodeKeyPackagePayload',
    () => [...mlsCorpus().keyPackages, concatBytes(Uint8Array.of(0, 1, 0, 5), mlsCorpus().keyPackages[0]!)],
    daveError,
    (input) => {
      const kp = decodeKeyPackagePayload(input);
      oracle(hex(input).endsWith(hex(kp)), 'op 26 key package is not a suffix of the payload');
    },
  ),
  decodeTarget(
    'dave-op27-proposals',
    'src/dave/opcodes.ts decodeProposalsPayload',
    () => mlsCorpus().proposals,
    daveError,
    (input) => same(encodeProposalsPayload(decodeProposalsPayload(input)), input, 'op 27'),
  ),
  decodeTarget(
    'dave-op28-commit-welcome',
    'src/dave/opcodes.ts decodeCommitWelcome',
    () => mlsCorpus().commits,
    daveError,
    (input) => {
      const { commit, welcome } = decodeCommitWelcome(input);
      same(encodeCommitWelcome(commit, welcome), input, 'op 28');
    },
  ),
  decodeTarget(
    'dave-op29-announce-commit',
    'src/dave/opcodes.ts decodeAnnounceCommit',
    () => mlsCorpus().commits.map((c, i) => encodeAnnounceCommit(i * 0x7fff, c)),
    daveError,
    (input) => {
      const { transitionId, commit } = decodeAnnounceCommit(input);
      same(encodeAnnounceCommit(transitionId, commit), input, 'op 29');
    },
  ),
  decodeTarget(
    'dave-op30-welcome',
    'src/dave/opcodes.ts decodeWelcomePayload',
    () => [encodeWelcomePayload(0xffff, mlsCorpus().welcome)],
    daveError,
    (input) => {
      const { transitionId, welcome } = decodeWelcomePayload(input);
      same(encodeWelcomePayload(transitionId, welcome), input, 'op 30');
    },
  ),
  decodeTarget(
    'mls-key-package',
    'src/dave/mls/mls-codec.ts readKeyPackage',
    () => mlsCorpus().keyPackages,
    codecError,
    (input) => {
      const r = new Reader(input);
      const kp = readKeyPackage(r, { version: 1, cipherSuite: MLS_CIPHERSUITE });
      oracle(r.offset <= input.length && kp.signedContent.length < r.offset, 'key package bounds');
    },
  ),
  decodeTarget(
    'mls-external-senders',
    'src/dave/mls/mls-codec.ts parseExternalSendersExtensionData',
    () => [encodeExternalSendersExtensionData([mlsCorpus().externalSender, mlsCorpus().externalSender])],
    codecError,
    (input) => {
      const senders = parseExternalSendersExtensionData(input);
      same(encodeExternalSendersExtensionData(senders.map((s) => s.encoded)), input, 'external_senders');
    },
  ),
  decodeTarget(
    'mls-commit',
    'src/dave/mls/mls-codec.ts parseCommitWelcome',
    () => mlsCorpus().commits,
    codecError,
    (input) => {
      const c = parseCommitWelcome(input);
      same(concatBytes(c.commit, c.welcome ?? new Uint8Array(0)), input, 'commit ‖ welcome');
    },
  ),
];
