export { FilterChain, resolveFilters, SUPPORTED_FILTERS } from './chain.js';
export type { EqualizerBand, FilterName, FilterSettings, ResolvedFilters } from './chain.js';
export { EQUALIZER_BANDS_HZ, EQUALIZER_BAND_COUNT } from './equalizer.js';
export type { ChannelMixSettings, KaraokeSettings } from './effects.js';
export type { DistortionSettings } from './distortion.js';
export type { TimescaleSettings } from './timescale.js';
