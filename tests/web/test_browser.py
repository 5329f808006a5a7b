"""Every page end to end in headless Chromium (Debian's chromium and chromium-driver, driven by selenium): upload
the sample clip and train to 100 %, generate from text and play the video, chat through a recorded wav with an
OpenAI-compatible LLM, score a result; each page's screenshot is checked for what it must show.

TALKINGFACE_WEB_SHOTS=DIR keeps the screenshots there (docs/web.md's come from this test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.web.conftest import Studio, speech_wav

selenium = pytest.importorskip("selenium", reason="selenium is pinned in requirements-dev.txt: make venv")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT_S = 240


def chromium_paths() -> tuple:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(
            "headless Chromium and its driver are needed: make media-tools (apt-get install chromium chromium-driver)"
        )
    return browser, driver


def start_chromium(*extra: str) -> webdriver.Chrome:
    binary, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,1500",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        *extra,
    ):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    chrome.set_page_load_timeout(60)
    return chrome


@pytest.fixture()
def browser() -> Iterator[webdriver.Chrome]:
    chrome = start_chromium()
    yield chrome
    chrome.quit()


def wait(chrome: webdriver.Chrome, condition, what: str, timeout_s: float = WAIT_S):
    return WebDriverWait(chrome, timeout_s, poll_frequency=0.3).until(condition, message=f"waited for {what}")


def text_of(chrome: webdriver.Chrome, css: str) -> str:
    return chrome.find_element(By.CSS_SELECTOR, css).text


def no_error(chrome: webdriver.Chrome) -> None:
    box = chrome.find_element(By.ID, "message")
    assert not (box.is_displayed() and "error" in box.get_attribute("class")), box.text


def shot(chrome: webdriver.Chrome, tmp_path: Path, name: str) -> np.ndarray:
    """The page as a picture; kept in TALKINGFACE_WEB_SHOTS when set. It must not be blank."""
    import cv2

    path = tmp_path / f"{name}.png"
    chrome.save_screenshot(str(path))
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 500 and image.std() > 20, f"{path} looks blank"
    keep = os.environ.get("TALKINGFACE_WEB_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return image


def video_region(chrome: webdriver.Chrome, image: np.ndarray, element) -> np.ndarray:
    """The element's pixels in a screenshot of the viewport."""
    ratio = chrome.execute_script("return window.devicePixelRatio") or 1
    box = chrome.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.width, r.height]", element
    )
    x0, y0, width, height = (int(v * ratio) for v in box)
    region = image[max(0, y0) : y0 + height, max(0, x0) : x0 + width]
    assert region.size > 0, f"the element is not in the screenshot ({box})"
    return region


def into_view(chrome: webdriver.Chrome, element) -> None:
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


def playing(chrome: webdriver.Chrome, element) -> None:
    """It decodes and its clock advances: the browser really plays it."""
    chrome.execute_script("arguments[0].muted = true; arguments[0].currentTime = 0; arguments[0].play();", element)
    wait(chrome, lambda c: c.execute_script("return arguments[0].currentTime", element) > 0.3, "the video to play", 30)
    chrome.execute_script("arguments[0].pause(); arguments[0].currentTime = 0.5;", element)
    wait(chrome, lambda c: c.execute_script("return arguments[0].readyState", element) >= 2, "a decoded frame", 30)


def test_every_page_end_to_end(studio: Studio, browser: webdriver.Chrome, clip: Path, tmp_path: Path, fake_llm) -> None:
    chrome = browser
    # ------------------------------------------------------------------ Train: upload the sample clip
    chrome.get(studio.base + "/train")
    Select(chrome.find_element(By.ID, "model")).select_by_value("ernerf")
    chrome.find_element(By.ID, "video-file").send_keys(str(clip))
    chrome.find_element(By.ID, "task").send_keys("talk")
    chrome.find_element(By.ID, "start").click()
    wait(chrome, lambda c: "input-check" in text_of(c, "#check-report"), "the check report", 60)
    wait(chrome, lambda c: text_of(c, "#job-state") == "running", "the training to start", 60)
    seen = set()

    def finished(c: webdriver.Chrome) -> bool:
        seen.add(text_of(c, "#percent"))
        return text_of(c, "#job-state") in ("done", "failed")

    wait(chrome, finished, "the training to end")
    no_error(chrome)
    assert text_of(chrome, "#job-state") == "done" and text_of(chrome, "#percent") == "100.0 %"
    # Progress was streamed as it went: more than the start and the end were shown.
    assert len(seen) >= 3, seen
    rows = chrome.find_elements(By.CSS_SELECTOR, "#steps tbody tr")
    assert len(rows) > 5 and all(r.get_attribute("class") == "done" for r in rows)
    assert "train-torso" in text_of(chrome, "#steps") and text_of(chrome, "#eta") == "00:00:00"
    shot(chrome, tmp_path, "train")

    # ------------------------------------------------------------------ Generate: text, spoken by the TTS service
    chrome.get(studio.base + "/generate")
    wait(chrome, lambda c: len(Select(c.find_element(By.ID, "task-pick")).options) > 0, "the task list", 30)
    Select(chrome.find_element(By.ID, "task-pick")).select_by_value("ernerf/talk")
    wait(chrome, lambda c: len(Select(c.find_element(By.ID, "voice")).options) == 2, "the voices", 30)
    chrome.find_element(By.ID, "text").send_keys("Hello world, this is the studio speaking.")
    chrome.find_element(By.ID, "start").click()
    wait(chrome, lambda c: c.find_element(By.ID, "result").is_displayed(), "the result video")
    no_error(chrome)
    video = chrome.find_element(By.ID, "result-video")
    wait(chrome, lambda c: text_of(c, "#video-duration") != "", "the video's metadata", 30)
    audio_s = float(text_of(chrome, "#audio-duration"))
    video_s = chrome.execute_script("return arguments[0].duration", video)
    assert audio_s > 1.5 and abs(video_s - audio_s) < 0.1, (video_s, audio_s)
    playing(chrome, video)
    assert chrome.find_element(By.ID, "download").get_attribute("href").endswith("/result")
    into_view(chrome, video)
    image = shot(chrome, tmp_path, "generate")
    # A decoded frame is on screen (the local line's double renders a test pattern), not an empty black box.
    assert video_region(chrome, image, video).std() > 20

    # ------------------------------------------------------------------ Chat: a recorded wav, ASR, LLM, TTS, infer
    chrome.get(studio.base + "/chat")
    assert "LLM: fake-1" in chrome.page_source
    wait(chrome, lambda c: len(Select(c.find_element(By.ID, "task-pick")).options) > 0, "the task list", 30)
    Select(chrome.find_element(By.ID, "task-pick")).select_by_value("ernerf/talk")
    assert Select(chrome.find_element(By.ID, "mode")).first_selected_option.get_attribute("value") == "llm"
    recording = speech_wav(tmp_path / "how.wav", "how are you")
    chrome.find_element(By.ID, "audio-file").send_keys(str(recording))
    chrome.find_element(By.ID, "send").click()
    wait(
        chrome,
        lambda c: c.execute_script(
            "const v = document.querySelector('#history video.reply'); return v && v.readyState >= 1"
        ),
        "the reply video",
    )
    no_error(chrome)
    history = text_of(chrome, "#history")
    assert "You: how are you" in history and "Reply: you said how are you" in history
    latency = text_of(chrome, "#history .latency")
    for stage in ("ASR", "LLM", "TTS", "infer"):
        assert f"{stage} " in latency and f"{stage} —" not in latency, latency
    assert "pocketsphinx" in latency and "pocketsphinx" in text_of(chrome, "#asr-engine")
    reply = chrome.find_element(By.CSS_SELECTOR, "#history video.reply")
    playing(chrome, reply)
    into_view(chrome, reply)
    image = shot(chrome, tmp_path, "chat")
    assert video_region(chrome, image, reply).std() > 20

    # ------------------------------------------------------------------ Models and results: score a result
    chrome.get(studio.base + "/models")
    wait(chrome, lambda c: c.find_elements(By.CSS_SELECTOR, "[data-score]"), "the results", 30)
    assert "ernerf" in text_of(chrome, "#tasks") and "talk" in text_of(chrome, "#tasks")
    gt = Select(chrome.find_element(By.ID, "gt-name"))
    gt.select_by_visible_text(next(o.text for o in gt.options if o.text.endswith("clip.mp4")))
    chrome.find_elements(By.CSS_SELECTOR, "[data-score]")[0].click()
    wait(chrome, lambda c: c.find_element(By.ID, "report").is_displayed(), "the evaluation report")
    no_error(chrome)
    chrome.switch_to.frame(chrome.find_element(By.ID, "report-frame"))
    wait(chrome, lambda c: "psnr" in c.page_source.lower(), "the report's content", 30)
    chrome.switch_to.default_content()
    shot(chrome, tmp_path, "models")


def test_offline_chat_through_the_microphone_in_repeat_mode(
    tmp_path: Path, native_env: Path, support: Path, tts, clip: Path
) -> None:
    """No LLM configured: the page says so and repeats; the microphone is Chromium's fake device playing a wav."""
    said = speech_wav(tmp_path / "said.wav", "how are you")
    # Chromium's fake device loops the file: silence around the words keeps one loop's words from running into the
    # next one's.
    spoken = tmp_path / "mic.wav"
    subprocess.run(["sox", str(said), str(spoken), "pad", "0.7", "1.5"], check=True)
    with Studio(tmp_path / "site", native_env=native_env, support=support, tts_url=tts.url) as site:
        shutil.copy(clip, site.inputs / "clip.mp4")
        chrome = start_chromium(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={spoken}",
        )
        try:
            # A bad input in the page: the API's message and fix, shown as they are.
            chrome.get(site.base + "/train")
            bad = tmp_path / "notes.mp4"
            bad.write_text("not a video\n" * 100)
            chrome.find_element(By.ID, "video-file").send_keys(str(bad))
            chrome.find_element(By.ID, "start").click()
            wait(chrome, lambda c: "error" in c.find_element(By.ID, "message").get_attribute("class"), "the error", 30)
            message = text_of(chrome, "#message")
            assert "the upload is not a video" in message and "-- fix: upload a video file" in message
            chrome.find_element(By.ID, "video-file").clear()
            Select(chrome.find_element(By.ID, "video-name")).select_by_value("clip.mp4")
            chrome.find_element(By.ID, "start").click()
            wait(chrome, lambda c: text_of(c, "#job-state") in ("done", "failed"), "the training")
            assert text_of(chrome, "#job-state") == "done"

            chrome.get(site.base + "/chat")
            assert chrome.find_element(By.ID, "llm-notice").is_displayed()
            assert "No LLM is configured" in text_of(chrome, "#llm-notice")
            mode = Select(chrome.find_element(By.ID, "mode"))
            assert mode.first_selected_option.get_attribute("value") == "repeat"
            assert not mode.options[0].is_enabled()
            wait(chrome, lambda c: len(Select(c.find_element(By.ID, "task-pick")).options) > 0, "the task list", 30)
            chrome.find_element(By.ID, "record").click()
            wait(chrome, lambda c: "recording" in text_of(c, "#record-state"), "the recording to start", 30)
            # One loop of the file is about 3 s.
            time.sleep(3.2)
            chrome.find_element(By.ID, "record").click()
            wait(chrome, lambda c: "recorded" in text_of(c, "#record-state"), "the recording to stop", 30)
            chrome.find_element(By.ID, "send").click()
            wait(
                chrome,
                lambda c: c.execute_script(
                    "const v = document.querySelector('#history video.reply'); return v && v.readyState >= 1"
                ),
                "the reply video",
            )
            no_error(chrome)
            history = text_of(chrome, "#history")
            assert "how are you" in history.split("Reply:")[0], history
            latency = text_of(chrome, "#history .latency")
            assert "LLM — (repeat mode (no LLM))" in latency and "pocketsphinx" in latency and "infer —" not in latency
            shot(chrome, tmp_path, "chat-offline")
        finally:
            chrome.quit()
