"""talkingface.prep.probe.parse on recorded ffprobe JSON, and the quick input checks on what it finds."""

from __future__ import annotations

from fractions import Fraction

import pytest

from talkingface.core.errors import TalkingfaceError
from talkingface.prep.input_checks import check_decoded, check_streams
from talkingface.prep.probe import MediaInfo, parse

# An iPhone clip held upright: 1920x1080 pixels with a display matrix that turns them 90 degrees clockwise.
PHONE = {
    "streams": [
        {
            "index": 0,
            "codec_name": "hevc",
            "codec_type": "video",
            "width": 1920,
            "height": 1080,
            "pix_fmt": "yuv420p10le",
            "r_frame_rate": "30/1",
            "avg_frame_rate": "30000/1001",
            "duration": "14.981633",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und", "handler_name": "Core Media Video"},
            "side_data_list": [
                {
                    "side_data_type": "Display Matrix",
                    "displaymatrix": "\n00000000:            0       65536           0\n00000001:      -65536  ...",
                    "rotation": -90,
                }
            ],
        },
        {
            "index": 1,
            "codec_name": "aac",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 2,
            "duration": "15.000000",
            "disposition": {"default": 1, "attached_pic": 0},
        },
        {"index": 2, "codec_name": "none", "codec_type": "data", "tags": {"handler_name": "Core Media Metadata"}},
    ],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "15.000000", "nb_streams": 3},
}

# Older Android phones and ffmpeg before 5.0 wrote the rotation as a stream tag.
OLD_ROTATE_TAG = {
    "streams": [
        {
            "codec_name": "h264",
            "codec_type": "video",
            "width": 1280,
            "height": 720,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "30/1",
            "avg_frame_rate": "0/0",
            "tags": {"rotate": "90", "language": "eng"},
        },
        {"codec_name": "amr_nb", "codec_type": "audio", "sample_rate": "8000", "channels": 1},
    ],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "20.5"},
}

# An mp3 with its album cover: a one-frame mjpeg "video" stream marked attached_pic.
COVER_ART = {
    "streams": [
        {
            "codec_name": "mp3",
            "codec_type": "audio",
            "sample_rate": "44100",
            "channels": 2,
            "duration": "183.144000",
            "disposition": {"default": 0, "attached_pic": 0},
        },
        {
            "codec_name": "mjpeg",
            "codec_type": "video",
            "width": 600,
            "height": 600,
            "pix_fmt": "yuvj420p",
            "r_frame_rate": "90000/1",
            "avg_frame_rate": "0/0",
            "duration": "183.144000",
            "disposition": {"default": 0, "attached_pic": 1},
            "tags": {"comment": "Cover (front)"},
        },
    ],
    "format": {"format_name": "mp3", "duration": "183.144000"},
}

# A screen recording without sound, in Matroska: no stream duration, the length only in the format.
NO_AUDIO = {
    "streams": [
        {
            "codec_name": "vp9",
            "codec_type": "video",
            "width": 1920,
            "height": 1080,
            "pix_fmt": "yuv420p",
            "r_frame_rate": "25/1",
            "avg_frame_rate": "25/1",
            "tags": {"DURATION": "00:01:12.040000000"},
        }
    ],
    "format": {"format_name": "matroska,webm", "duration": "72.040000"},
}


class TestParse:
    def test_phone_clip_rotated_by_its_display_matrix(self) -> None:
        info = parse("phone.mov", PHONE)
        assert info.video is not None and info.audio is not None
        assert (info.video.width, info.video.height) == (1080, 1920)
        assert info.video.rotation == 270
        assert info.video.fps == Fraction(30000, 1001)
        assert info.video.codec == "hevc" and info.video.pix_fmt == "yuv420p10le"
        assert info.video.duration == pytest.approx(14.981633)
        assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 44100, 2)
        assert info.duration == 15.0
        assert info.summary() == (
            "mov,mp4,m4a,3gp,3g2,mj2, 15.00 s; hevc 1080x1920 30 fps yuv420p10le, rotated 270; aac 44100 Hz x2"
        )

    def test_old_rotate_tag(self) -> None:
        info = parse("old.mp4", OLD_ROTATE_TAG)
        assert info.video is not None
        assert (info.video.width, info.video.height, info.video.rotation) == (720, 1280, 90)
        assert info.video.fps == Fraction(30), "avg_frame_rate 0/0 falls back to r_frame_rate"
        assert info.video.duration == 0.0
        assert info.audio is not None and info.audio.codec == "amr_nb"

    @pytest.mark.parametrize("rotation, size", [(180, (1920, 1080)), (-270, (1080, 1920)), (0, (1920, 1080))])
    def test_only_quarter_turns_swap_the_sides(self, rotation: int, size) -> None:
        data = {
            "streams": [dict(PHONE["streams"][0], side_data_list=[{"rotation": rotation}])],
            "format": PHONE["format"],
        }
        info = parse("p.mov", data)
        assert info.video is not None
        assert (info.video.width, info.video.height) == size
        assert info.video.rotation == rotation % 360

    def test_cover_art_is_not_a_video(self) -> None:
        info = parse("song.mp3", COVER_ART)
        assert info.video is None
        assert info.audio is not None and info.audio.codec == "mp3"
        assert info.summary() == "mp3, 183.14 s; mp3 44100 Hz x2"

    def test_video_without_audio(self) -> None:
        info = parse("screen.mkv", NO_AUDIO)
        assert info.audio is None
        assert info.video is not None and (info.video.width, info.video.height) == (1920, 1080)
        assert info.video.duration == 0.0 and info.duration == pytest.approx(72.04)

    def test_nothing_known(self) -> None:
        info = parse("x", {"format": {"duration": "N/A"}})
        assert (info.video, info.audio, info.duration, info.container) == (None, None, 0.0, "?")


class TestCheckStreams:
    def test_phone_clip_passes_with_a_warning_about_its_length(self) -> None:
        warnings = check_streams(parse("phone.mov", PHONE), needs_audio=True)
        assert len(warnings) == 1 and "15.0 s" in warnings[0] and "1 to 5 minutes" in warnings[0]

    def test_audio_file_with_cover_art(self) -> None:
        with pytest.raises(TalkingfaceError) as caught:
            check_streams(parse("song.mp3", COVER_ART), needs_audio=True)
        assert caught.value.problem.startswith("song.mp3 has no video stream (mp3, 183.14 s")
        assert caught.value.exit_code == 1 and "not an audio file" in caught.value.fix

    def test_no_audio_when_training_needs_it(self) -> None:
        with pytest.raises(TalkingfaceError, match="screen.mkv has no audio stream") as caught:
            check_streams(parse("screen.mkv", NO_AUDIO), needs_audio=True)
        assert caught.value.exit_code == 1 and "with its sound" in caught.value.fix

    def test_no_audio_is_fine_when_not_needed(self) -> None:
        assert check_streams(parse("screen.mkv", NO_AUDIO), needs_audio=False) == []

    @pytest.mark.parametrize("seconds, passes", [(9.9, False), (10.0, True), (59.9, True)])
    def test_ten_seconds_at_least(self, seconds: float, passes: bool) -> None:
        data = {"streams": PHONE["streams"], "format": dict(PHONE["format"], duration=str(seconds))}
        if passes:
            assert len(check_streams(parse("p.mov", data), needs_audio=True)) == 1
        else:
            with pytest.raises(TalkingfaceError, match=r"p.mov lasts 9.90 s; training needs at least 10 s"):
                check_streams(parse("p.mov", data), needs_audio=True)

    def test_tiny_video(self) -> None:
        data = {"streams": [dict(NO_AUDIO["streams"][0], width=48, height=64)], "format": NO_AUDIO["format"]}
        with pytest.raises(TalkingfaceError, match="is 48x64, too small to find a face in"):
            check_streams(parse("tiny.mkv", data), needs_audio=False)


def info_of(stream_seconds: float, file_seconds: float) -> MediaInfo:
    video = dict(PHONE["streams"][0], duration=str(stream_seconds)) if stream_seconds else NO_AUDIO["streams"][0]
    return parse("v.mp4", {"streams": [video], "format": {"duration": str(file_seconds)}})


class TestCheckDecoded:
    def test_all_frames_or_a_second_less_pass(self) -> None:
        check_decoded(info_of(12.0, 12.0), 300, fps=25)
        check_decoded(info_of(12.0, 12.0), 275, fps=25)
        check_decoded(info_of(10.5, 10.5), 263, fps=25)

    def test_a_truncated_file_stops(self) -> None:
        with pytest.raises(TalkingfaceError) as caught:
            check_decoded(info_of(12.0, 12.0), 149, fps=25)
        assert caught.value.problem == (
            "v.mp4 stops after 00:05.96 (mm:ss) though its header says 00:12.00: only 149 of 300 frames decode"
        )
        assert "truncated" in caught.value.fix

    def test_the_stream_length_counts_not_the_audio_after_it(self) -> None:
        check_decoded(info_of(12.0, 20.0), 300, fps=25)
        with pytest.raises(TalkingfaceError):
            check_decoded(info_of(12.0, 20.0), 250, fps=25)

    def test_without_a_stream_length_a_tenth_is_allowed(self) -> None:
        check_decoded(info_of(0, 72.04), 1801 - 180, fps=25)
        with pytest.raises(TalkingfaceError, match="only 1600 of 1801 frames"):
            check_decoded(info_of(0, 72.04), 1600, fps=25)
