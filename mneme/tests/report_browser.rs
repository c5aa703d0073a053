//! The report and the comparison as a reader sees them, in headless Chromium: the task list
//! narrows when filtered, a failed task's story opens with its feedback and reflection, the
//! comparison's paired flips lead to the stories. A scripted model (a mock OpenAI server whose
//! answers depend on the prompt) makes one task fail and then get fixed by its reflection, one
//! pass at once and one never pass; the sandbox, tests and memory are the real ones. Each view's
//! screenshot is kept under the target directory's `tmp/report-screenshots/`.

mod common;

use common::Env;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the scripted model's reflection says; its presence in a prompt unlocks the fix.
const LESSON: &str = "The function returned False without comparing any pair; compare every pair of numbers against the threshold.";

const WRONG_0: &str = "def has_close_elements(numbers, threshold):\n    return False\n";
const RIGHT_0: &str = "def has_close_elements(numbers, threshold):\n    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n            if abs(a - b) < threshold:\n                return True\n    return False\n";
const RIGHT_1: &str = "def separate_paren_groups(paren_string):\n    groups, depth, current = [], 0, ''\n    for ch in paren_string:\n        if ch == '(':\n            depth += 1\n            current += ch\n        elif ch == ')':\n            depth -= 1\n            current += ch\n            if depth == 0:\n                groups.append(current)\n                current = ''\n    return groups\n";
const WRONG_2: &str = "def truncate_number(number):\n    return number\n";

/// Answers by what the prompt asks: a reflection, or code for one of the first three tasks.
struct Scripted;

impl Respond for Scripted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let prompt = body["messages"].to_string();
        let reply = if prompt.contains("programming teacher") {
            LESSON.to_string()
        } else if prompt.contains("has_close_elements") {
            let code = if prompt.contains("compare every pair") {
                RIGHT_0
            } else {
                WRONG_0
            };
            format!("```python\n{code}```")
        } else if prompt.contains("separate_paren_groups") {
            format!("```python\n{RIGHT_1}```")
        } else {
            format!("```python\n{WRONG_2}```")
        };
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "scripted", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt.len() / 4, "completion_tokens": reply.len() / 4, "total_tokens": (prompt.len() + reply.len()) / 4}
        }))
    }
}

async fn scripted_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": [{"id": "scripted"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Scripted)
        .mount(&server)
        .await;
    server
}

/// `mneme ARGS` against the scripted server, in a blocking thread.
async fn mneme(env: &Arc<Env>, server: &MockServer, args: &[&str]) {
    let (env, base) = (env.clone(), format!("{}/v1", server.uri()));
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.command(&args)
            .env("MNEME_MODEL__BASE_URL", base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn browser() -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(common::chromium())))
        .sandbox(false)
        .window_size(Some((1400, 1000)))
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    Browser::new(options).unwrap()
}

/// Keeps a PNG of what the tab shows as a test artefact, and checks it is not blank.
fn screenshot(tab: &Tab, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    common::assert_png_has_content(&png, name);
    let file = dir.join(format!("{name}.png"));
    std::fs::write(&file, png).unwrap();
    eprintln!("screenshot: {}", file.display());
    file
}

/// Evaluates `js` in the tab, as a string.
fn text(tab: &Tab, js: &str) -> String {
    let value = tab.evaluate(js, false).unwrap().value;
    match value {
        Some(serde_json::Value::String(s)) => s,
        other => panic!("{js} gave {other:?}"),
    }
}

/// Chooses `value` in the list's "show" menu, as a reader's pick would.
fn choose(tab: &Tab, value: &str) {
    let js = format!("(() => {{ const s = document.getElementById('show'); s.value = '{value}'; s.dispatchEvent(new Event('change')); return ''; }})()");
    text(tab, &js);
}

const VISIBLE_TASKS: &str = "Array.from(document.querySelectorAll('#tasks tbody tr')).filter(r => !r.hidden).map(r => r.dataset.task).join(',')";

/// Opens `file` and waits for `ready` (a selector) to appear.
fn open(tab: &Tab, file: &Path, ready: &str) {
    tab.navigate_to(&format!("file://{}", file.display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element(ready).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(chromium),
    ignore = "needs headless Chromium (apt-get install chromium; scripts/setup --tests installs it)"
)]
async fn a_reader_filters_tasks_opens_a_story_and_follows_a_flip() {
    let server = scripted_server().await;
    let env = Arc::new(Env::new());
    let common = ["run", "humaneval", "--limit", "3", "--model", "scripted"];
    let reflexion = [&common[..], &["--strategy", "reflexion", "--trials", "2"]].concat();
    mneme(
        &env,
        &server,
        &[&reflexion[..], &["--run-dir", "two"]].concat(),
    )
    .await;
    let once = [&common[..], &["--strategy", "simple", "--trials", "1"]].concat();
    mneme(&env, &server, &[&once[..], &["--run-dir", "one"]].concat()).await;
    let two = env.path("two");
    mneme(&env, &server, &["report", two.to_str().unwrap()]).await;
    let (one, cmp) = (env.path("one"), env.path("cmp"));
    let arms = [one.to_str().unwrap(), two.to_str().unwrap()];
    mneme(
        &env,
        &server,
        &["compare", arms[0], arms[1], "--out", cmp.to_str().unwrap()],
    )
    .await;

    let md = std::fs::read_to_string(two.join("report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "- HumanEval/0: the reflection before the fix said \"{LESSON}\""
        )),
        "{md}"
    );

    let browser = browser();
    let tab = browser.new_tab().unwrap();
    open(&tab, &two.join("report.html"), "body[data-ready-ms]");
    assert_eq!(
        text(&tab, VISIBLE_TASKS),
        "HumanEval/0,HumanEval/1,HumanEval/2"
    );
    assert_eq!(
        text(&tab, "document.getElementById('shown').textContent"),
        "3 of 3 tasks"
    );
    screenshot(&tab, "report-list");

    // Choosing "fixed by a retry" narrows the list to the task the reflection fixed.
    choose(&tab, "fixed");
    assert_eq!(text(&tab, VISIBLE_TASKS), "HumanEval/0");
    // Typing into the search box narrows the whole list by task id.
    choose(&tab, "all");
    tab.find_element("#q").unwrap().click().unwrap();
    tab.type_str("Eval/2").unwrap();
    assert_eq!(text(&tab, VISIBLE_TASKS), "HumanEval/2");
    screenshot(&tab, "report-filtered");

    // Sorting by verdict puts the failed task first.
    text(&tab, "(() => { const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); return ''; })()");
    let verdict_header = tab.find_elements("#tasks th").unwrap().remove(1);
    verdict_header.click().unwrap();
    assert!(text(&tab, VISIBLE_TASKS).starts_with("HumanEval/2"));

    // The fixed task's story: the failed attempt, its feedback, the reflection, the fix.
    tab.find_element("#tasks a[href='#task=HumanEval%2F0']")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_for_element("#story h3").unwrap();
    let story = text(&tab, "document.getElementById('story').innerText");
    for expected in [
        "HumanEval/0",
        "fixed by a retry",
        "Attempt 1",
        "Attempt 2",
        "internal tests: not passed",
        "reflection",
        LESSON,
        "return False",
        "internal tests: passed",
        "submitted attempt 2: passed",
    ] {
        assert!(
            story.contains(expected),
            "no {expected:?} in the story:\n{story}"
        );
    }
    // The prompt as sent opens on demand and holds the reflection the fix used.
    let prompts = tab.find_elements("#story details summary").unwrap();
    prompts.last().unwrap().click().unwrap();
    let opened = text(&tab, "Array.from(document.querySelectorAll('#story details[open]')).map(d => d.innerText).join('\\n')");
    assert!(
        opened.contains(LESSON) && opened.contains("user"),
        "{opened}"
    );
    screenshot(&tab, "report-story");

    // The comparison: the flip links to the task's story in the run that fixed it.
    open(&tab, &cmp.join("compare.html"), ".flips");
    let flips = text(&tab, "document.querySelector('.flips').innerText");
    assert!(
        flips.contains("fixed HumanEval/0") && flips.contains("broken none"),
        "{flips}"
    );
    screenshot(&tab, "compare");
    tab.find_element(".flips .fixed a")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("#story h3").unwrap();
    assert!(tab.get_url().contains("two/report.html#task=HumanEval%2F0"));
    assert_eq!(
        text(&tab, "document.querySelector('#story h3').textContent"),
        "HumanEval/0"
    );
    screenshot(&tab, "compare-to-story");
}
