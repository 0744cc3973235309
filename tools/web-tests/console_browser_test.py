#!/usr/bin/env python3
"""Drives the web console in headless Chromium (WebDriver, through selenium).

Run by the Swift test WebConsoleBrowserTests, which starts a real
`cairn serve` and two `cairn web` consoles and passes their URLs. Every
setup is done in the page only; each result is then confirmed through the
CLI (`cairn providers show --json`, `cairn providers readiness`, `cairn ls`).
Waits are on DOM conditions (WebDriverWait), never fixed sleeps.

Usage: console_browser_test.py --console URL --dropping-console URL --cairn PATH
         --socket PATH --scratch DIR [--screenshots DIR]
"""
import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import traceback

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

PROVIDER = "excititor:oci-openvex"
IMAGE = "ghcr.io/acme/api:1.4.2"
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
WAIT = 30


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Console:
    """One browser session on one console, with the page's data-testid hooks."""

    def __init__(self, driver, url):
        self.d = driver
        self.base = url.split("?")[0]
        driver.get(url)  # the token is exchanged for the session cookie, then dropped from the URL
        self.wait_testid("provider-row")
        check("token=" not in self.d.current_url, f"the token stays in the URL: {self.d.current_url}")

    def wait(self, condition, timeout=WAIT, what=None):
        def guarded(driver):
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, timeout).until(guarded)
        except TimeoutException:
            raise Failure(f"timed out waiting for {what or condition}; message: {self.message()!r}")

    def find(self, testid, within=None):
        return (within or self.d).find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def find_all(self, testid, within=None):
        return (within or self.d).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait_testid(self, testid):
        return self.wait(lambda d: self.find_all(testid), what=f"[data-testid={testid}]")[0]

    def message(self):
        try:
            return self.d.find_element(By.CSS_SELECTOR, '[data-testid="message"]').text
        except Exception:
            return ""

    def wait_message(self, text):
        self.wait(lambda d: text in self.message(), what=f"message containing {text!r}")
        return self.message()

    def tenant(self, name):
        """Picks tenant `name` on the catalog page."""
        self.find("nav-providers").click()
        self.wait_testid("provider-row")
        box = self.find("tenant-select")
        box.clear()
        box.send_keys(name + Keys.ENTER)
        self.wait(lambda d: f"tenant={name}" in d.current_url, what=f"tenant {name} in the URL")
        # The catalog drawn for this tenant, not the one before it.
        self.wait(lambda d: f"Readiness in tenant {name}." in d.find_element(By.ID, "view").text
                  and any(r.find_elements(By.CSS_SELECTOR, '[data-testid="readiness"]')
                          for r in self.find_all("provider-row")), what=f"the catalog of {name}")

    def catalog_readiness(self):
        row = self.d.find_element(By.CSS_SELECTOR, f'[data-testid="provider-row"][data-provider-id="{PROVIDER}"]')
        return self.find("readiness", row).text

    def open_provider(self):
        row = self.d.find_element(By.CSS_SELECTOR, f'[data-testid="provider-row"][data-provider-id="{PROVIDER}"]')
        row.find_element(By.TAG_NAME, "a").click()
        self.wait_testid("save")

    def readiness(self):
        return self.find("readiness").text

    def codes(self):
        return [e.text for e in self.find_all("readiness-code")]

    def add_item(self, field, value):
        before = len(self.find_all(f"list-{field}-item"))
        self.find(f"list-{field}-new").send_keys(value)
        self.find(f"list-{field}-add").click()
        self.wait(lambda d: len(self.find_all(f"list-{field}-item")) == before + 1, what=f"{field} item added")

    def select(self, field, value):
        Select(self.find(f"field-{field}")).select_by_value(value)

    def type(self, field, value):
        box = self.find(f"field-{field}")
        box.clear()
        box.send_keys(value)

    def upload(self, field, path, slot_index=-1):
        """Chooses `path` in the slot's file input; waits until the slot shows the staged sha256."""
        digest = sha256_file(path)
        slots = self.find_all(f"slot-{field}")
        slots[slot_index].find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys(path)
        self.wait(lambda d: digest in [e.text for e in self.find_all(f"slot-{field}-sha256")],
                  timeout=120, what=f"{field} staged with sha256 {digest}")
        return digest

    def drop(self, field, path, mime="application/json"):
        """Drops `path` on the slot as a drag-and-drop would."""
        digest = sha256_file(path)
        with open(path, "rb") as handle:
            data = base64.b64encode(handle.read()).decode()
        self.d.execute_script("""
            const [data, name, testid, mime] = arguments;
            const text = atob(data);
            const bytes = new Uint8Array(text.length);
            for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const slot = document.querySelectorAll(`[data-testid="${testid}"]`);
            const target = slot[slot.length - 1];
            for (const type of ['dragenter', 'dragover', 'drop'])
              target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
        """, data, os.path.basename(path), f"slot-{field}", mime)
        self.wait(lambda d: digest in [e.text for e in self.find_all(f"slot-{field}-sha256")],
                  what=f"{field} staged by drop")
        return digest

    def save(self):
        """Saves, and waits for the next revision (one save, one change, one revision)."""
        revision = int(self.find("revision").get_attribute("data-revision"))
        self.find("save").click()
        self.wait_message(f"Saved: revision {revision + 1},")


class CLI:
    def __init__(self, cairn, socket):
        self.cairn = cairn
        self.env = dict(os.environ, CAIRN_SOCKET=socket)

    def run(self, *args):
        return subprocess.run([self.cairn, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def show(self, tenant):
        result = self.run("providers", "show", PROVIDER, "--tenant", tenant, "--json")
        check(result.returncode == 0, f"providers show: {result.stderr}")
        snapshot = json.loads(result.stdout)
        return snapshot, {f["key"]: f for f in snapshot["fields"]}

    def readiness(self, tenant):
        return self.run("providers", "readiness", PROVIDER, "--tenant", tenant)


def sha256_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def make_file(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


# ---------------------------------------------------------------- the checks

def keyless(page, cli, files):
    page.tenant("keyless")
    check(page.catalog_readiness() == "blocked", "an unconfigured provider is blocked")
    page.open_provider()
    check("PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS" in page.codes(), f"codes: {page.codes()}")
    # References are checked as typed; the server's readiness stays authoritative.
    box = page.find("list-imageSubscriptions-new")
    box.send_keys("GHCR.io/Acme/API:1.4.2")
    page.wait(lambda d: "not a valid" in d.find_element(By.CSS_SELECTOR, ".hint").text, what="invalid hint")
    box.clear()
    page.add_item("imageSubscriptions", "ghcr.io/acme/old:0.9")
    page.add_item("imageSubscriptions", IMAGE)
    # Reorder and remove: the old image moves after the new one, then goes.
    page.find_all("list-imageSubscriptions-up")[1].click()
    page.wait(lambda d: page.find_all("list-imageSubscriptions-item")[0].text.startswith(IMAGE), what="reordered")
    page.find_all("list-imageSubscriptions-remove")[1].click()
    page.wait(lambda d: len(page.find_all("list-imageSubscriptions-item")) == 1, what="removed")
    page.select("cosignMode", "keyless")
    page.type("cosignIssuer", ISSUER)
    page.type("cosignSubject", SUBJECT)
    page.save()
    check(page.readiness() == "ready", f"keyless readiness {page.readiness()} {page.codes()}")
    snapshot, fields = cli.show("keyless")
    check(fields["imageSubscriptions"]["value"] == [IMAGE], f"images {fields['imageSubscriptions']}")
    check(fields["cosignMode"]["value"] == "keyless" and fields["cosignIssuer"]["value"] == ISSUER
          and fields["cosignSubject"]["value"] == SUBJECT, f"keyless fields {fields}")
    check(cli.readiness("keyless").returncode == 0, "the CLI finds keyless ready")


def keypair(page, cli, files):
    page.tenant("keypair")
    page.open_provider()
    page.add_item("imageSubscriptions", IMAGE)
    page.select("cosignMode", "keypair")
    page.save()
    check(page.readiness() == "blocked" and "PROVIDER_CONFIG_MISSING_COSIGN_KEY" in page.codes(), f"{page.codes()}")
    # The sub-code stands next to its field too.
    field = page.d.find_element(By.CSS_SELECTOR, 'fieldset[data-field="cosignKey"]')
    check("PROVIDER_CONFIG_MISSING_COSIGN_KEY" in field.text, "the sub-code is shown at cosignKey")
    digest = page.upload("cosignKey", files["key"])
    page.save()
    check(page.readiness() == "ready", f"keypair readiness {page.codes()}")
    _, fields = cli.show("keypair")
    key = fields["cosignKey"]
    check(key["artifacts"][0]["sha256"] == digest, f"cosignKey {key}")
    check(cli.readiness("keypair").returncode == 0, "the CLI finds keypair ready")
    # A referenced artifact's delete is refused, from the provider page's table.
    artifact_id = key["value"]
    row = page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-testid="artifact-row"][data-artifact-id="{artifact_id}"]'),
                    what="the key's row")[0]
    check("cosignKey" in page.find("artifact-references", row).text, "the row names its reference")
    page.find("artifact-delete", row).click()
    text = page.wait_message("ARTIFACT_IN_USE")
    check("cosignKey" in text, f"the refusal names the field: {text}")
    listed = cli.run("ls", "--tenant", "keypair", "--json")
    check(artifact_id in listed.stdout, "the key is still stored")
    return artifact_id


def tuf_offline(page, cli, files):
    page.tenant("offline")
    page.open_provider()
    page.add_item("imageSubscriptions", IMAGE)
    page.select("cosignMode", "keyless")
    page.type("cosignIssuer", ISSUER)
    page.type("cosignSubject", SUBJECT)
    page.select("offline", "true")
    page.save()
    check(page.codes() == ["PROVIDER_CONFIG_MISSING_TUF_ROOT"], f"offline without a root: {page.codes()}")
    root = page.upload("tufRoot", files["root"])
    bundle = page.drop("offlineBundle", files["bundle"])
    page.save()
    check(page.readiness() == "ready", f"offline readiness {page.codes()}")
    _, fields = cli.show("offline")
    check(fields["offline"]["value"] == "true", f"offline {fields['offline']}")
    check(fields["tufRoot"]["artifacts"][0]["sha256"] == root, "tufRoot")
    check(fields["offlineBundle"]["artifacts"][0]["sha256"] == bundle, "offlineBundle")
    check(cli.readiness("offline").returncode == 0, "the CLI finds offline ready")


def private_registry(page, cli, files):
    page.tenant("private")
    page.open_provider()
    page.add_item("imageSubscriptions", "registry.internal:5000/acme/api:2.0")
    page.select("cosignMode", "keypair")
    page.upload("cosignKey", files["key"])
    page.type("registryEndpoint", "http://registry.internal:5000")
    page.type("registryUsername", "ci-bot")
    page.type("registryPassword", "hunter2-not-shown")
    first = page.upload("registryCaCertificates", files["ca1"])
    second = page.upload("registryCaCertificates", files["ca2"])
    page.save()
    check(page.readiness() == "blocked" and page.codes() == ["PROVIDER_CONFIG_HTTP_REGISTRY_BLOCKED"],
          f"http endpoint: {page.codes()}")
    check("PROVIDER_CONFIG_HTTP_REGISTRY_BLOCKED" in cli.readiness("private").stdout, "the CLI sees it blocked")
    page.select("allowHttpRegistry", "true")
    page.save()
    check(page.readiness() == "ready", f"allowed http: {page.codes()}")
    # The password is write-only: never in the page, set on the server.
    check("hunter2-not-shown" not in page.d.page_source, "the password is shown back")
    check(page.find("field-registryPassword").get_attribute("value") == "", "the password field is empty")
    _, fields = cli.show("private")
    check(fields["registryPassword"]["value"] == {"set": True}, f"password {fields['registryPassword']}")
    check([a["sha256"] for a in fields["registryCaCertificates"]["artifacts"]] == [first, second], "CA bundles")
    check(fields["registryEndpoint"]["value"] == "http://registry.internal:5000", "endpoint")
    check(fields["allowHttpRegistry"]["value"] == "true", "allowHttpRegistry")
    check(cli.readiness("private").returncode == 0, "the CLI finds private ready")


def conflict(page, cli, files):
    page.tenant("keyless")
    page.open_provider()
    # The CLI changes the configuration under the open page.
    changed = cli.run("providers", "configure", PROVIDER, "--tenant", "keyless", "--set", "cosignSubject=ops@acme.example")
    check(changed.returncode == 0, f"configure: {changed.stderr}")
    page.type("cosignIssuer", "https://issuer.acme.example")
    page.find("save").click()
    text = page.wait_message("CONFLICT")
    check("CONFLICT" in text, text)
    page.find("conflict-reload").click()
    page.wait(lambda d: page.find("field-cosignSubject").get_attribute("value") == "ops@acme.example",
              what="the reloaded subject")
    _, fields = cli.show("keyless")
    check(fields["cosignSubject"]["value"] == "ops@acme.example", "the CLI's change stands")
    check(fields["cosignIssuer"]["value"] == ISSUER, "the page's stale change was not stored")


def big_upload(page, cli, files):
    page.tenant("big")
    page.open_provider()
    digest = page.upload("offlineBundle", files["big"])
    progress = page.find("slot-offlineBundle-progress")
    updates = int(progress.get_attribute("data-updates") or 0)
    check(progress.get_attribute("value") == "100", f"progress at {progress.get_attribute('value')}")
    check(updates >= 20, f"the progress bar moved {updates} times for 20 pieces")
    page.save()
    _, fields = cli.show("big")
    meta = fields["offlineBundle"]["artifacts"][0]
    check(meta["sha256"] == digest and meta["sizeBytes"] == 20 << 20, f"20 MiB: {meta}")


def usage_and_verify(page, cli, files):
    """Usage against the quotas, the event chain, and an admin's verification run (tenant big)."""
    quota = cli.run("quota", "set", "--tenant", "big", "--max-bytes", "64M", "--max-artifacts", "5")
    check(quota.returncode == 0, f"quota: {quota.stderr}")
    page.tenant("big")
    page.find("nav-usage").click()
    bytes_figure = page.wait_testid("usage-bytes")
    check(bytes_figure.text == "20.0 MiB of 64.0 MiB", f"usage-bytes {bytes_figure.text!r}")
    check(page.find("usage-artifacts").text == "1 of 5", f"usage-artifacts {page.find('usage-artifacts').text!r}")
    check(page.find("events-chain").text.startswith("Hash chain intact"), page.find("events-chain").text)
    page.find("verify-start").click()
    page.wait(lambda d: page.find("verify-result").text.startswith("Clean"), what="a clean verification")
    check(page.find("verify-progress").get_attribute("value") == str(20 << 20), "the progress bar reached the end")
    check(cli.run("verify", "--tenant", "big").returncode == 0, "the CLI finds big clean too")


def data_defined(page, cli, files):
    """A provider of providers.d/: the same page, generated from its field definitions."""
    global PROVIDER
    page.tenant("sbom")
    row = page.d.find_element(By.CSS_SELECTOR, '[data-testid="provider-row"][data-provider-id="acme:sbom-export"]')
    check(page.find("readiness", row).text == "blocked", "the data-defined provider starts blocked")
    builtin, PROVIDER = PROVIDER, "acme:sbom-export"
    try:
        page.open_provider()
        check(set(page.codes()) == {"PROVIDER_CONFIG_MISSING_FIELD"}, f"codes {page.codes()}")
        check(len(page.find_all("field-issue")) == 3, "one issue under each required field")
        page.type("endpoint", "https://sbom.acme.example/upload")
        page.select("format", "cyclonedx")
        page.type("token", "s3cret-token")
        page.add_item("products", "api")
        page.add_item("products", "web")
        key = page.upload("signingKey", files["key"])
        root = page.drop("extraRoots", files["ca1"], "application/x-pem-file")
        page.save()
        check(page.readiness() == "ready", f"sbom readiness {page.codes()}")
        check("s3cret-token" not in page.d.page_source, "the token is shown back")
        _, fields = cli.show("sbom")
        check(fields["endpoint"]["value"] == "https://sbom.acme.example/upload", "endpoint")
        check(fields["format"]["value"] == "cyclonedx" and fields["token"]["value"] == {"set": True}, "format, token")
        check(fields["products"]["value"] == ["api", "web"], "products")
        check(fields["signingKey"]["artifacts"][0]["sha256"] == key, "signingKey")
        check(fields["extraRoots"]["artifacts"][0]["sha256"] == root, "extraRoots")
        check(cli.readiness("sbom").returncode == 0, "the CLI finds sbom ready")
    finally:
        PROVIDER = builtin


def resumed_upload(driver, url, cli, files):
    page = Console(driver, url)
    page.tenant("resume")
    page.open_provider()
    digest = page.upload("offlineBundle", files["resume"])
    resumes = int(page.find("slot-offlineBundle-progress").get_attribute("data-resumes") or 0)
    check(resumes >= 1, "the upload did not resume (was the connection dropped?)")
    page.save()
    _, fields = cli.show("resume")
    meta = fields["offlineBundle"]["artifacts"][0]
    check(meta["sha256"] == digest and meta["sizeBytes"] == 6 << 20, f"resumed: {meta}")


def screenshots(page, cli, directory):
    page.d.set_window_size(1100, 760)
    page.tenant("private")
    page.d.save_screenshot(os.path.join(directory, "web-catalog.png"))
    page.open_provider()
    # Blocked again, to show the sub-codes: allowHttpRegistry back to its default.
    page.select("allowHttpRegistry", "")
    page.save()
    page.d.execute_script("window.scrollTo(0, 0);")
    page.d.save_screenshot(os.path.join(directory, "web-provider.png"))
    slot = page.d.find_element(By.CSS_SELECTOR, 'fieldset[data-field="registryEndpoint"]')
    page.d.execute_script("arguments[0].scrollIntoView(true);", slot)
    page.d.save_screenshot(os.path.join(directory, "web-fields.png"))
    slot = page.d.find_element(By.CSS_SELECTOR, 'fieldset[data-field="registryCaCertificates"]')
    page.d.execute_script("arguments[0].scrollIntoView(true);", slot)
    page.d.save_screenshot(os.path.join(directory, "web-slots.png"))
    page.find("nav-artifacts").click()
    page.wait_testid("artifact-row")
    page.d.save_screenshot(os.path.join(directory, "web-artifacts.png"))
    quota = CLI.run(cli, "quota", "set", "--tenant", "private", "--max-bytes", "1K", "--max-artifacts", "10")
    check(quota.returncode == 0, f"quota: {quota.stderr}")
    page.find("nav-usage").click()
    page.wait_testid("usage-bytes")
    page.d.save_screenshot(os.path.join(directory, "web-usage.png"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--console", required=True)
    parser.add_argument("--dropping-console", required=True)
    parser.add_argument("--cairn", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--screenshots")
    args = parser.parse_args()

    files = {
        "key": make_file(args.scratch, "cosign.pub",
                         b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0000\n-----END PUBLIC KEY-----\n"),
        "root": make_file(args.scratch, "trusted_root.json", b'{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n'),
        "bundle": make_file(args.scratch, "attestations.bundle", b'{"bundles":[]}\n'),
        "ca1": make_file(args.scratch, "ca-root.pem", b"-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n"),
        "ca2": make_file(args.scratch, "ca-intermediate.pem", b"-----BEGIN CERTIFICATE-----\nintermediate\n-----END CERTIFICATE-----\n"),
        "big": make_file(args.scratch, "big.bin", os.urandom(20 << 20)),
        "resume": make_file(args.scratch, "resume.bin", os.urandom(6 << 20)),
    }
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CAIRN_TEST_CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--disable-extensions", "--no-first-run"]:
        options.add_argument(argument)
    service = Service(os.environ.get("CAIRN_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
    cli = CLI(args.cairn, args.socket)
    passed, failed = 0, 0
    driver = webdriver.Chrome(service=service, options=options)
    try:
        page = Console(driver, args.console)
        checks = [("keyless", keyless), ("keypair", keypair), ("tuf_offline", tuf_offline),
                  ("private_registry", private_registry), ("conflict", conflict), ("big_upload", big_upload),
                  ("usage_and_verify", usage_and_verify), ("data_defined", data_defined)]
        for name, run in checks:
            try:
                run(page, cli, files)
                print(f"ok {name}")
                passed += 1
            except Exception:
                failed += 1
                print(f"FAILED {name}\n{traceback.format_exc()}")
        if args.screenshots:
            screenshots(page, cli, args.screenshots)
        driver.delete_all_cookies()
        try:
            resumed_upload(driver, args.dropping_console, cli, files)
            print("ok resumed_upload")
            passed += 1
        except Exception:
            failed += 1
            print(f"FAILED resumed_upload\n{traceback.format_exc()}")
        # The page ran without a script error or a Content-Security-Policy violation. (The dropped
        # connection's failed request is logged too, as a network error, and is expected.)
        logged = driver.get_log("browser")
        for entry in logged:
            if entry.get("level") == "SEVERE":
                print(f"browser: {entry.get('message')}")
        faults = [e for e in logged if "Content Security Policy" in e.get("message", "")
                  or "Uncaught" in e.get("message", "")]
        if faults:
            failed += 1
            print(f"FAILED page_errors: {faults}")
        else:
            print("ok page_errors")
            passed += 1
    finally:
        driver.quit()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
