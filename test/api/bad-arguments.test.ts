/**
 * Plain JavaScript can pass anything. Every public entry point answers a value of the wrong type
 * with a VoxcordError INVALID_ARGUMENT (thrown, or the promise rejected) that names the argument,
 * never a TypeError from deep inside, and never by carrying on with it.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as vox from '../../src/index.js';
import * as compat from '../../src/compat/discordjs-voice/index.js';

/** Calls that type-check only with `as never`: the shapes JavaScript callers get wrong. */
const bad = (value: unknown): never => value as never;

const adapterCreator: vox.VoiceAdapterCreator = () => ({ sendPayload: () => true, destroy: () => {} });
const join = (extra: Record<string, unknown>): vox.VoiceConnection =>
  vox.joinVoiceChannel(bad({ guildId: '1', channelId: '2', adapterCreator, group: 'bad-args', ...extra }));

const stateful = { state: { status: 'idle' }, on: () => {}, off: () => {} };

/** Runs `call` on a fresh connection, then destroys it. */
function onConnection(call: (connection: vox.VoiceConnection) => unknown): unknown {
  const connection = join({});
  try {
    return call(connection);
  } finally {
    connection.destroy();
  }
}

/** A session never connected (its engine is never used). */
const session = (): vox.VoiceSession =>
  new vox.VoiceSession({
    serverId: '1',
    userId: '2',
    endpoint: '127.0.0.1:1',
    sessionId: 's',
    token: 't',
    engine: {
      kind: 'inline',
      openChannel: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    },
  });

async function* noFrames(): AsyncGenerator<vox.AudioFrame> {}
const sink = (): Writable => new Writable({ write: (_chunk, _enc, done) => done() });
const ogg = (): ReturnType<typeof vox.createOggOpusWriter> => vox.createOggOpusWriter(sink());
const wav = (): ReturnType<typeof vox.createWavWriter> => vox.createWavWriter(sink());

/** [what the call is, the call, a word the message must contain]. */
const CALLS: Array<[string, () => unknown, string]> = [
  // options objects that are not objects
  ['new AudioPlayer(null)', () => new vox.AudioPlayer(bad(null)), 'options'],
  ['new VoiceReceiver(null)', () => new vox.VoiceReceiver(bad(null)), 'options'],
  ['new VoiceReceiver({ jitter: null })', () => new vox.VoiceReceiver(bad({ jitter: null })), 'jitter'],
  ['new RecordingTimeline(null)', () => new vox.RecordingTimeline(bad(null)), 'options'],
  ['createMediaEngine(null)', () => vox.createMediaEngine(bad(null)), 'options'],
  ['createMediaEngine(7)', () => vox.createMediaEngine(bad(7)), 'options'],
  ['startNode(null)', () => vox.startNode(bad(null)), 'options'],
  ['startLocalDiscord(null)', () => vox.startLocalDiscord(bad(null)), 'options'],
  ["startLocalDiscord({ guilds: 'x' })", () => vox.startLocalDiscord(bad({ guilds: 'x' })), 'guilds'],
  ['startLocalDiscord({ guilds: [null] })', () => vox.startLocalDiscord(bad({ guilds: [null] })), 'guild'],
  ['compat createAudioPlayer(null)', () => compat.createAudioPlayer(bad(null)), 'options'],
  ['joinVoiceChannel(null)', () => vox.joinVoiceChannel(bad(null)), 'options'],
  // option values of the wrong type
  ['new VoiceReceiver({ now: 5 })', () => new vox.VoiceReceiver(bad({ now: 5 })), 'now'],
  ['new AudioPlayer({ now: 5 })', () => new vox.AudioPlayer(bad({ now: 5 })), 'now'],
  ['new RecordingTimeline({ now: 5 })', () => new vox.RecordingTimeline(bad({ now: 5 })), 'now'],
  [
    "new RecordingTimeline({ startAt: 'x' })",
    () => new vox.RecordingTimeline(bad({ startAt: 'x' })),
    'startAt',
  ],
  ['joinVoiceChannel debug: 5', () => join({ debug: 5 }), 'debug'],
  ['joinVoiceChannel engine: 5', () => join({ engine: 5 }), 'engine'],
  ['joinVoiceChannel engine: {}', () => join({ engine: {} }), 'engine'],
  ['joinVoiceChannel tls: 5', () => join({ tls: 5 }), 'tls'],
  ["joinVoiceChannel joinTimeoutMs: 'x'", () => join({ joinTimeoutMs: 'x' }), 'joinTimeoutMs'],
  ['joinVoiceChannel handshakeTimeoutMs: -1', () => join({ handshakeTimeoutMs: -1 }), 'handshakeTimeoutMs'],
  ['joinVoiceChannel reconnect: 5', () => join({ reconnect: 5 }), 'reconnect'],
  ["ffmpegInput inputArgs: '-re'", () => vox.ffmpegInput('a.mp3', bad({ inputArgs: '-re' })), 'inputArgs'],
  [
    'createOggOpusWriter comments: 5',
    () => vox.createOggOpusWriter(sink(), bad({ comments: 5 })),
    'comments',
  ],
  ['recordWav timeline: 5', () => vox.recordWav(noFrames(), sink(), bad({ timeline: 5 })), 'timeline'],
  [
    'recordOggOpus timeline: {}',
    () => vox.recordOggOpus(noFrames(), sink(), bad({ timeline: {} })),
    'timeline',
  ],
  [
    "loadTracks httpTimeoutMs: 'x'",
    () => vox.loadTracks('http://127.0.0.1:1/a', bad({ httpTimeoutMs: 'x' })),
    'httpTimeoutMs',
  ],
  // arguments of the wrong type
  ['recordWav(frames, null)', () => vox.recordWav(noFrames(), bad(null)), 'target'],
  ['recordWav(null, sink)', () => vox.recordWav(bad(null), sink()), 'frames'],
  ['recordOggOpus(frames, 5)', () => vox.recordOggOpus(noFrames(), bad(5)), 'target'],
  ['createWavWriter(null)', () => vox.createWavWriter(bad(null)), 'target'],
  ['createOggOpusWriter({})', () => vox.createOggOpusWriter(bad({})), 'target'],
  ['new AudioByteStream(null)', () => new vox.AudioByteStream(bad(null)), 'source'],
  ["entersState(null, 'ready', 10)", () => vox.entersState(bad(null), 'ready', 10), 'target'],
  ["entersState(target, 'ready', 'x')", () => vox.entersState(stateful, 'ready', bad('x')), 'timeout'],
  ['createVoiceReceiver(null)', () => vox.createVoiceReceiver(bad(null)), 'session'],
  ['attachReceiver(null, null)', () => vox.attachReceiver(bad(null), bad(null)), 'receiver'],
  ['attachReceiver(receiver, null)', () => vox.attachReceiver(new vox.VoiceReceiver(), bad(null)), 'session'],
  ['pcmInput(undefined)', () => vox.pcmInput(bad(undefined)), 'input'],
  ['oggOpusInput(5)', () => vox.oggOpusInput(bad(5)), 'input'],
  ['webmOpusInput(null)', () => vox.webmOpusInput(bad(null)), 'input'],
  ['opusFramesInput(null)', () => vox.opusFramesInput(bad(null)), 'source'],
  ['fileInput(null)', () => vox.fileInput(bad(null)), 'target'],
  ['httpInput(5)', () => vox.httpInput(bad(5)), 'url'],
  ['ffmpegInput(null)', () => vox.ffmpegInput(bad(null)), 'input'],
  ['sniffContainer(null)', () => vox.sniffContainer(bad(null)), 'head'],
  ["parseOpusHead('x')", () => vox.parseOpusHead(bad('x')), 'packet'],
  ['parseOpusTags(null)', () => vox.parseOpusTags(bad(null)), 'packet'],
  ['opusPacketSamples(null)', () => vox.opusPacketSamples(bad(null)), 'packet'],
  ['probeFfmpeg(5)', () => vox.probeFfmpeg(bad(5)), 'ffmpegPath'],
  ['encodeTrack(null)', () => vox.encodeTrack(bad(null)), 'track'],
  ['decodeTrack(null)', () => vox.decodeTrack(bad(null)), 'encoded'],
  ['summarizeLateness(null)', () => vox.summarizeLateness(bad(null)), 'histograms'],
  ['summarizeLateness([null])', () => vox.summarizeLateness(bad([null])), 'histograms'],
  ["loadOpus('x')", () => vox.loadOpus(bad('x')), 'preference'],
  ["generateSelfSignedCertificate('x')", () => vox.generateSelfSignedCertificate(bad('x')), 'hosts'],
  ['FilterChain.process(null)', () => new vox.FilterChain().process(bad(null)), 'pcm'],
  ['compat demuxProbe(null)', () => compat.demuxProbe(bad(null)), 'stream'],
  ['compat entersState(null)', () => compat.entersState(bad(null), bad('ready'), 10), 'target'],
  // the rest of the entry points' options
  ['new VoiceSession(null)', () => new vox.VoiceSession(bad(null)), 'options'],
  ['createGatewayClient(null)', () => vox.createGatewayClient(bad(null)), 'options'],
  ['createVoiceBackend(null)', () => vox.createVoiceBackend(bad(null)), 'options'],
  ['createVoiceBackend engine: {}', () => vox.createVoiceBackend(bad({ engine: {} })), 'engine'],
  ['createTimelineBackend({ now: 1 })', () => vox.createTimelineBackend(bad({ now: 1 })), 'now'],
  ['startVoiceServer(null)', () => vox.startVoiceServer(bad(null)), 'options'],
  ['startMainGateway(null)', () => vox.startMainGateway(bad(null)), 'options'],
  ['startNode backend: {}', () => vox.startNode(bad({ password: 'p', port: 0, backend: {} })), 'backend'],
  [
    "startNode sources: ['youtube']",
    () => vox.startNode(bad({ password: 'p', port: 0, sources: ['youtube'] })),
    'sources',
  ],
  [
    'startNode statsIntervalMs: 0',
    () => vox.startNode({ password: 'p', port: 0, statsIntervalMs: 0 }),
    'statsIntervalMs',
  ],
  ['startNode log: true', () => vox.startNode(bad({ password: 'p', port: 0, log: true })), 'log'],
  ['loadTracks(null)', () => vox.loadTracks(bad(null)), 'identifier'],
  ['createWavWriter(sink, null)', () => vox.createWavWriter(sink(), bad(null)), 'format'],
  ['createOggOpusWriter serial: -1', () => vox.createOggOpusWriter(sink(), { serial: -1 }), 'serial'],
  ['encodeTrack({ info: {} })', () => vox.encodeTrack(bad({ info: {} })), 'track.info'],
  ["loadOpus(['opusscript'], null)", () => vox.loadOpus(['opusscript'], bad(null)), 'options'],
  ['new AudioPlayer({ opus: 5 })', () => new vox.AudioPlayer(bad({ opus: 5 })), 'opus'],
  ['ffmpegInput onSpawn: 1', () => vox.ffmpegInput('a.mp3', bad({ onSpawn: 1 })), 'onSpawn'],
  ['fileInput ffprobePath: 1', () => vox.fileInput('a.mp3', bad({ ffprobePath: 1 })), 'ffprobePath'],
  ['resolveFilters(null)', () => vox.resolveFilters(bad(null)), 'filter'],
  ['toneInput(null)', () => vox.toneInput(bad(null)), 'tone'],
  // methods given the wrong argument
  ['player.play(null)', () => new vox.AudioPlayer().play(bad(null)), 'input'],
  ['player.enqueue(5)', () => new vox.AudioPlayer().enqueue(bad(5)), 'input'],
  ['player.mix({})', () => new vox.AudioPlayer().mix(bad({})), 'input'],
  [
    'player.play(input, null)',
    () => new vox.AudioPlayer().play(vox.toneInput({ notes: [{ frequency: 440, ms: 20 }] }), bad(null)),
    'options',
  ],
  ["player.seek('x')", () => new vox.AudioPlayer().seek(bad('x')), 'seek'],
  ["player.volume = 'x'", () => (new vox.AudioPlayer().volume = bad('x')), 'volume'],
  ["player.loop = 'x'", () => (new vox.AudioPlayer().loop = bad('x')), 'loop'],
  ['player.filters.set(null)', () => new vox.AudioPlayer().filters.set(bad(null)), 'filter'],
  ["receiver.subscribe('1', null)", () => new vox.VoiceReceiver().subscribe('1', bad(null)), 'options'],
  ['receiver.subscribe(5)', () => new vox.VoiceReceiver().subscribe(bad(5)), 'userId'],
  ['receiver.mixed(null)', () => new vox.VoiceReceiver().mixed(bad(null)), 'options'],
  ["timeline.stop('x')", () => new vox.RecordingTimeline().stop(bad('x')), 'at'],
  ["timeline.samplesAt('x')", () => new vox.RecordingTimeline().samplesAt(bad('x')), 'at'],
  // numbers a Node timer cannot keep (2^31 ms and more fire at once), and other bad numbers
  [
    'createGatewayClient shardCount: Infinity',
    () => vox.createGatewayClient({ token: 't', shardCount: Infinity }),
    'shardCount',
  ],
  [
    'createGatewayClient intents: Symbol',
    () => vox.createGatewayClient(bad({ token: 't', intents: Symbol('i') })),
    'intents',
  ],
  [
    'createGatewayClient shardIds: []',
    () => vox.createGatewayClient({ token: 't', shardIds: [] }),
    'shardIds',
  ],
  [
    'new AudioPlayer({ stallTimeoutMs: Infinity })',
    () => new vox.AudioPlayer({ stallTimeoutMs: Infinity }),
    'stallTimeoutMs',
  ],
  [
    'new AudioPlayer({ positionIntervalMs: 2 ** 53 })',
    () => new vox.AudioPlayer({ positionIntervalMs: 2 ** 53 }),
    'positionIntervalMs',
  ],
  [
    'new AudioPlayer({ broadcastWindow: true })',
    () => new vox.AudioPlayer(bad({ broadcastWindow: true })),
    'broadcastWindow',
  ],
  ['joinVoiceChannel joinTimeoutMs: 2 ** 31', () => join({ joinTimeoutMs: 2 ** 31 }), 'joinTimeoutMs'],
  [
    "entersState(target, 'ready', 2 ** 53)",
    () => vox.entersState(stateful, 'ready', 2 ** 53),
    'timeoutOrSignal',
  ],
  ['receiver.start(0)', () => new vox.VoiceReceiver().start(0), 'intervalMs'],
  [
    'startNode statsIntervalMs: 2 ** 53',
    () => vox.startNode({ password: 'p', port: 0, statsIntervalMs: 2 ** 53 }),
    'statsIntervalMs',
  ],
  ['timeline.stop(Date.now())', () => new vox.RecordingTimeline().stop(Date.now()), 'stop(at)'],
  [
    'startVoiceServer faults.udp.observe: 5',
    () => vox.startVoiceServer(bad({ faults: { udp: { observe: 5 } } })),
    'observe',
  ],
  [
    'session.feedOggOpusFile skipFrames: () => 1',
    () => session().feedOggOpusFile('a.ogg', bad({ skipFrames: () => 1 }), () => {}),
    'skipFrames',
  ],
  ["session.feedOggOpusFile onEnd: 'x'", () => session().feedOggOpusFile('a.ogg', {}, bad('x')), 'onEnd'],
  ['joinVoiceChannel reconnect.jitter: NaN', () => join({ reconnect: { jitter: Number.NaN } }), 'jitter'],
  [
    "joinVoiceChannel reconnect.baseDelayMs: '100'",
    () => join({ reconnect: { baseDelayMs: '100' } }),
    'baseDelayMs',
  ],
  ['createOggOpusWriter channels: 3', () => vox.createOggOpusWriter(sink(), { channels: 3 }), 'channels'],
  ['createOggOpusWriter preSkip: -1', () => vox.createOggOpusWriter(sink(), { preSkip: -1 }), 'preSkip'],
  [
    'createWavWriter sampleRate: 2 ** 53',
    () => vox.createWavWriter(sink(), { sampleRate: 2 ** 53, channels: 2 }),
    'sampleRate',
  ],
  [
    "connection.rejoin({ selfMute: 'x' })",
    () => onConnection((c) => c.rejoin(bad({ selfMute: 'x' }))),
    'selfMute',
  ],
  ['connection.subscribe(0)', () => onConnection((c) => c.subscribe(bad(0))), 'subscriber'],
  ['connection.playOpus(null)', () => onConnection((c) => c.playOpus(bad(null))), 'source'],
  ['session.playOpus(5)', () => session().playOpus(bad(5)), 'source'],
  ['compat player.play(null)', () => compat.createAudioPlayer().play(bad(null)), 'AudioResource'],
  [
    "compat behaviors.noSubscriber: 'x'",
    () => compat.createAudioPlayer(bad({ behaviors: { noSubscriber: 'x' } })),
    'noSubscriber',
  ],
  [
    'compat createAudioResource(stream, null)',
    () => compat.createAudioResource(Readable.from([]), bad(null)),
    'options',
  ],
  [
    'compat volume.setVolumeLogarithmic(null)',
    () =>
      compat
        .createAudioResource(Readable.from([]), { inlineVolume: true })
        .volume?.setVolumeLogarithmic(bad(null)),
    'volume',
  ],
  [
    "compat createAudioResource silencePaddingFrames: 'x'",
    () => compat.createAudioResource(Readable.from([]), bad({ silencePaddingFrames: 'x' })),
    'silencePaddingFrames',
  ],
  [
    "compat receiver.subscribe highWaterMark: 'x'",
    () => new compat.VoiceReceiver(new vox.VoiceReceiver()).subscribe('1', bad({ highWaterMark: 'x' })),
    'highWaterMark',
  ],
  ['dave.verificationCode(Symbol())', () => session().dave.verificationCode(bad(Symbol('id'))), 'userId'],
  ['FilterChain.pull(null)', () => new vox.FilterChain({ timescale: { speed: 1.5 } }).pull(bad(null)), 'pcm'],
  ["receiver.tick('x')", () => new vox.VoiceReceiver().tick(bad('x')), 'now'],
  [
    'a target whose playOpus returns no transmission',
    () => {
      const player = new vox.AudioPlayer({ noSubscriber: 'play' });
      try {
        player.attach(bad({ playOpus: () => 5 }));
        player.play(vox.toneInput({ notes: [{ frequency: 440, ms: 40 }] }));
      } finally {
        player.destroy();
      }
    },
    'transmission',
  ],
  // a writer fed the wrong chunk
  ['wav writer write(null)', () => wav().write(bad(null)), 'chunk'],
  ["wav writer write('abc')", () => wav().write(bad('abc')), 'chunk'],
  ['wav writer write(3 bytes)', () => wav().write(new Uint8Array(3)), 'chunk'],
  ['ogg writer write(null)', () => ogg().write(bad(null)), 'packet'],
  ["ogg writer writeLost('abc')", () => ogg().writeLost(bad('abc')), 'samples'],
  ['ogg writer writeLost(-1)', () => ogg().writeLost(-1), 'samples'],
];

/** Runs the call; returns what it threw or rejected with, or 'returned' when it accepted. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    if (result instanceof Promise) await result;
    else if (result instanceof PassThrough) result.destroy();
    return 'returned';
  } catch (err) {
    return err;
  }
}

describe('a public call given a value of the wrong type', () => {
  it.each(CALLS)('%s: INVALID_ARGUMENT naming it', async (_name, call, word) => {
    const err = await outcome(call);
    expect(vox.isVoxcordError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    expect((err as Error).message.toLowerCase()).toContain(word.toLowerCase());
  });

  it("a voice server's setFaults refuses faults that broke the gateway or the SFU", async () => {
    const server = await vox.startVoiceServer();
    try {
      for (const faults of [
        null,
        undefined,
        { udp: { observe: 5 } },
        { udp: { drop: 2 } },
        { ws: { delayMs: Infinity } },
      ])
        expect(() => server.setFaults(bad(faults)), JSON.stringify(faults)).toThrow(/faults/);
      const ids = { guildId: '1', channelId: '2', userId: '3' };
      const calls: Array<[string, () => unknown, string]> = [
        ['allocate sessionId: 5', () => server.allocate(bad({ ...ids, sessionId: 5 })), 'sessionId'],
        ["allocate deaf: 'x'", () => server.allocate(bad({ ...ids, deaf: 'x' })), 'deaf'],
        ["setVoiceFlags(…, 'x')", () => server.setVoiceFlags('1', '3', bad('x')), 'flags'],
        ['setVoiceFlags mute: 1', () => server.setVoiceFlags('1', '3', bad({ mute: 1 })), 'flags.selfDeaf'],
        ['closeClient(…, null)', () => server.closeClient('3', '1', bad(null)), 'code'],
      ];
      for (const [name, call, word] of calls) {
        const err = await outcome(call);
        expect(vox.isVoxcordError(err, 'INVALID_ARGUMENT'), `${name}: ${String(err)}`).toBe(true);
        expect((err as Error).message, name).toContain(word);
      }
    } finally {
      await server.stop();
    }
  });

  it("the local Discord's operator controls refuse wrong values with INVALID_ARGUMENT", async () => {
    const local = await vox.startLocalDiscord({ guilds: [{ id: '100', channels: [{ id: '200' }] }] });
    try {
      const calls: Array<[string, () => unknown]> = [
        ['addGuild(null)', () => local.addGuild(bad(null))],
        ["addGuild({ id: 'x' })", () => local.addGuild({ id: 'x' })],
        ['addChannel(guild, null)', () => local.addChannel('100', bad(null))],
        ['addUser({ id: 123 })', () => local.addUser(bad({ id: 123 }))],
        [
          'sendMessage content 5',
          () => local.sendMessage(bad({ channelId: '200', userId: '300', content: 5 })),
        ],
        ['runCommand(null)', () => local.runCommand(bad(null))],
        ['setServerVoiceFlags(…, null)', () => local.setServerVoiceFlags('100', '300', bad(null))],
        ['moveUser(…, null)', () => local.moveUser('100', '300', '200', bad(null))],
        ["messages({ after: 'x' })", () => local.messages({ after: 'x' })],
        ["waitForMessage({ after: 'x' })", () => local.waitForMessage({ after: 'x' }, 50)],
        ["setVoiceEventOrder('x')", () => local.setVoiceEventOrder(bad('x'))],
        ['createBot(0)', () => local.createBot(bad(0))],
        ['gateway.dropConnections(null)', () => local.gateway.dropConnections(bad(null))],
      ];
      for (const [name, call] of calls) {
        const err = await outcome(call);
        expect(vox.isVoxcordError(err, 'INVALID_ARGUMENT'), `${name}: ${String(err)}`).toBe(true);
      }
    } finally {
      await local.stop();
    }
  });

  it('leaves no connection behind when joinVoiceChannel refuses its options', () => {
    expect(vox.getVoiceConnections('bad-args').size).toBe(0);
  });
});
