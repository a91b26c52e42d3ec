// Probe results for the pure planning tests: an 8-bit SDR H.264 video stream of the given size.
import type { VideoInfo } from '../../src/media/media-info.ts';

export function videoInfo(width: number, height: number, over: Partial<VideoInfo> = {}): VideoInfo {
  return {
    codec: 'h264',
    width,
    height,
    displayWidth: width,
    displayHeight: height,
    rotation: 0,
    frameRate: 30,
    variableFrameRate: false,
    pixelFormat: 'yuv420p',
    bitDepth: 8,
    colorTransfer: null,
    colorPrimaries: null,
    hdr: false,
    // Unknown source bitrate: the plan keeps the template's rates (no cap at the source's rate).
    bitRate: null,
    ...over,
  };
}
