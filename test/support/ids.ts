/**
 * The snowflakes tests use when the value does not matter (the examples of Discord's own docs).
 * A test that needs a second guild, channel or user adds its own next to these.
 */
export const GUILD = '41771983423143937';
export const CHANNEL = '127121515262115840';
/** A second channel in GUILD, for moves. */
export const CHANNEL_2 = '127121515262115841';
/** A text channel in GUILD, for Lavalink clients that post to one. */
export const TEXT_CHANNEL = '1400000000000000999';
/** The bot under test. */
export const BOT = '104694319306248192';
/** A second participant that hears the bot. */
export const LISTENER = '80351110224678912';
