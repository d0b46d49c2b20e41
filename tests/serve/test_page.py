"""The page at / in a real headless Chromium (Debian's `chromium`, driven by Playwright): for each task,
the test picks the model, types into its form, runs it against the live server, and checks what the
page shows against what the API answers for the same input. RNNKIT_SCREENSHOTS=DIR also saves a
screenshot per task (docs/img/serve-*.png were made so)."""

import os
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.serve import Limits, create_app, load_served

from ..tiny import TASKS as TINY
from .server import Server

playwright = pytest.importorskip("playwright.sync_api", reason="the test extra: pip install -e '.[test]'")
CHROMIUM = os.environ.get("RNNKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM and os.environ.get("CI"):  # .ci/run installs it: a CI without it must not pass silently
    raise RuntimeError("no chromium on this CI machine: .ci/run installs Debian's chromium package")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="needs Debian's chromium (apt-get install chromium)")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # no connections to the outside


@pytest.fixture(scope="module")
def server(saved, tmp_path_factory):
    """The saved runs, a tagger and a classifier trained further (the saved ones find few entities), and a
    probabilistic forecaster (the saved one gives point forecasts) for the band: a few seconds."""
    root = tmp_path_factory.mktemp("page")
    longer = ["--set", "train.max_steps=120", "--set", "train.eval_every=120"]
    for task, sets in (("tag", longer), ("classify", longer), ("forecast", ["--set", "model.likelihood=gaussian"])):
        tiny = TINY[task](root / task)
        assert main(["train", *tiny.train, "--out", str(root / task / "run"), *sets]) == 0
    specs = ["lm=lm/run", f"classify={root / 'classify/run'}", f"tag={root / 'tag/run'}", "seq2seq=seq2seq/run",
             f"forecast={root / 'forecast/run'}"]
    running = Server(create_app([load_served(spec) for spec in specs], Limits()))
    running.series = Path(root / "forecast" / "series.csv").read_text()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready=true]")
        yield page
        browser.close()


def use(page, model, text):
    """Pick ``model``, type ``text`` into its form, run it; the visible panel."""
    page.select_option("#model", model)
    panel = page.locator(".panel:not([hidden])")
    panel.locator(".input").fill(text)
    panel.locator("button.run").click()
    return panel


def shot(page, name):
    folder = os.environ.get("RNNKIT_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"serve-{name}.png"), full_page=True)


def test_the_page_lists_every_model_and_says_what_it_is(page):
    options = page.locator("#model option").all_text_contents()
    assert options == ["lm (lm)", "classify (classify)", "tag (tag)", "seq2seq (seq2seq)", "forecast (forecast)"]
    page.select_option("#model", "classify")
    assert page.locator("#about").text_content().startswith("classify: bilstm 1x8")
    assert page.locator("#panel-classify").is_visible() and not page.locator("#panel-tag").is_visible()


def test_generation_streams_into_the_page(page, server):
    panel = page.locator("#panel-generate")
    page.select_option("#model", "lm")
    panel.locator("[name=seed]").fill("5")
    panel.locator("[name=max_tokens]").fill("60")
    use(page, "lm", "line")
    page.wait_for_selector("#panel-generate pre[data-done=true]")
    expected = server.call("/v1/models/lm/generate", {"prompt": "line", "max_tokens": 60, "seed": 5,
                                                      "temperature": 0.8})[2]["text"]
    assert panel.locator("pre.output").text_content() == "line" + expected
    shot(page, "generate")


def test_classification_shows_a_bar_per_class(page, server):
    panel = use(page, "classify", "the film was great\ndull plot")
    page.wait_for_selector("#panel-classify .result >> nth=1")
    expected = server.call("/v1/models/classify/classify", {"texts": ["the film was great", "dull plot"]})[2]["results"]
    for box, result in zip(panel.locator(".result").all(), expected):
        bars = {bar.get_attribute("data-label"): float(bar.get_attribute("data-probability"))
                for bar in box.locator(".bar").all()}
        assert bars == pytest.approx(result["probabilities"])
        assert box.locator(".bar.best").get_attribute("data-label") == result["label"]
    shot(page, "classify")


def test_tagging_highlights_the_entities(page, server):
    text = "Peter met Mary in Paris and Berlin"
    panel = use(page, "tag", text)
    page.wait_for_selector("#panel-tag .result")
    spans = server.call("/v1/models/tag/tag", {"texts": [text]})[2]["results"][0]["spans"]
    marks = panel.locator("mark.entity").all()
    assert [(m.get_attribute("data-type"), m.text_content()) for m in marks] == [(s["type"], s["text"]) for s in spans]
    assert {s["text"] for s in spans} >= {"Peter", "Paris"}  # the tagger learned them: the check is not vacuous
    assert panel.locator(".result").text_content().replace("PER", "").replace("LOC", "") == text  # the labels are CSS
    shot(page, "tag")


def test_translation_shows_its_attention_heatmap(page, server):
    page.select_option("#model", "seq2seq")
    page.locator("#panel-translate [name=greedy]").check()  # the tiny model's beam prefers an empty output
    panel = use(page, "seq2seq", "ka lo mi")
    page.wait_for_selector("#panel-translate table.attention")
    expected = server.call("/v1/models/seq2seq/translate", {"texts": ["ka lo mi"], "attention": True,
                                                            "greedy": True})[2]["results"][0]
    assert panel.locator(".translation").text_content() == expected["translation"] != ""
    rows = panel.locator("table.attention tbody tr").all()
    assert len(rows) == len(expected["attention"]["target"])
    weights = [float(td.get_attribute("data-weight")) for row in rows for td in row.locator("td").all()]
    assert weights == pytest.approx([w for row in expected["attention"]["weights"] for w in row])
    shot(page, "translate")


def test_the_forecast_chart_has_its_interval_band(page, server):
    panel = use(page, "forecast", server.series)
    page.wait_for_selector("#panel-forecast svg.chart")
    expected = server.call("/v1/models/forecast/forecast", raw=server.series.encode(),
                           headers={"content-type": "text/csv"})[2]
    assert panel.locator("polyline.forecast").get_attribute("data-steps") == str(len(expected["times"]))
    band = panel.locator("polygon.band")
    levels = sorted(expected["series"]["load"]["quantiles"], key=float)
    assert band.get_attribute("data-levels") == f"{levels[0]}-{levels[-1]}"
    assert len(band.get_attribute("points").split()) == 2 * len(expected["times"])
    shot(page, "forecast")


def test_the_server_s_error_is_shown(page):
    use(page, "forecast", "date,load,wind\n2021-03-01 00:00,1,2\n")
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#error").text_content().startswith("body: 1 rows, but the model needs data.context = 12")
