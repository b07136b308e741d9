import Foundation
import GatewayApp
import GatewayCore
import GatewayOIDC
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// A real headless Chromium, driven through the DevTools protocol, against the real server on loopback.
final class HeadlessChromium: @unchecked Sendable {
    let process = Process()
    let profile: URL
    let devToolsPort: Int

    static let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    init() async throws {
        let executable = try #require(Self.executable, "chromium is not installed (scripts/bootstrap installs it)")
        profile = TestGateway.temporaryFolder("gateway-chromium")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "--window-size=1280,900", "about:blank",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let portFile = profile.appendingPathComponent("DevToolsActivePort")
        var port: Int?
        for _ in 0..<200 where port == nil {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let first = text.split(separator: "\n").first {
                port = Int(first)
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        devToolsPort = try #require(port, "chromium did not start its DevTools server")
    }

    /// Runs `steps` (see Browser/cdp.py) and returns one result per step.
    func run(_ steps: [[String: Any]]) async throws -> [[String: Any]] {
        let script = WebFixture.projectRoot.appendingPathComponent("Tests/GatewayWebTests/Browser/cdp.py").path
        let driver = Process()
        driver.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        driver.arguments = ["python3", script, String(devToolsPort), String(decoding: try JSONSerialization.data(withJSONObject: steps), as: UTF8.self)]
        let output = Pipe(), errors = Pipe()
        driver.standardOutput = output
        driver.standardError = errors
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            driver.terminationHandler = { _ in continuation.resume() }
            do { try driver.run() } catch { continuation.resume(throwing: error) }
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        guard driver.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let results = object["results"] as? [[String: Any]] else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw BrowserError(message: "the DevTools driver failed (\(driver.terminationStatus)): \(message)")
        }
        return results
    }

    func close() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: profile)
    }

    struct BrowserError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// TEST-4, LINK-2, LINK-3 in a real browser: scripts run, nothing auto-submits; a forwarded link
/// decides nothing; the signed-in reviewer decides with a real click.
@Suite(.serialized) struct BrowserTests {
    /// Screenshots go to `var/screenshots` (ignored by git).
    static let screenshots = WebFixture.projectRoot.appendingPathComponent("var/screenshots")

    @Test func headlessBrowserDecidesOnlyWhenApproveIsClicked() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let other = try await fixture.request("requester2@example.test", resource: "staging-web")
        _ = try await fixture.request("requester2@example.test", resource: "prod-db", reason: "read replica lag")
        let browser = try await HeadlessChromium()
        defer { browser.close() }
        try await fixture.application().test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let before = try await fixture.snapshot()

            // A scanner with JavaScript on: open every link, let each page run for 5 seconds. The
            // page shows the request and offers only "Sign in to confirm" (LINK-2).
            for kind in [WebFixture.LinkKind.review, .deny, .approve] {
                let opened = try await browser.run([
                    ["navigate": base + fixture.link(kind, request: request, to: "approver1@example.test")], ["wait": 5],
                    ["exists": "#sign-in-to-confirm"], ["exists": "#approve"],
                ])
                #expect((opened[0]["url"] as? String)?.contains("/link/") == true)
                #expect(opened[2]["exists"] as? Bool == true)
                #expect(opened[3]["exists"] as? Bool == false)
            }
            #expect(try await fixture.snapshot() == before)

            // TEST-4, LINK-2: a browser holding only the forwarded link (and the page's own cookie)
            // builds the decision form itself and clicks Approve: nothing changes.
            let forged = try await browser.run([
                ["navigate": base + fixture.link(.approve, request: request, to: "approver1@example.test")],
                ["script": """
                    (() => { const f = document.querySelector('form.signin'); if (!f) return false;
                      const g = f.cloneNode(true); g.className = 'forged'; g.querySelector('[name=intent]').value = 'decide';
                      const a = document.createElement('input'); a.type = 'hidden'; a.name = 'action'; a.value = 'approve'; g.appendChild(a);
                      const b = document.createElement('button'); b.type = 'submit'; b.id = 'approve'; b.textContent = 'Approve'; g.appendChild(b);
                      document.body.appendChild(g); return true; })()
                    """],
                ["click": "#approve"], ["text": true],
            ])
            #expect(forged[1]["value"] as? Bool == true)
            #expect((forged[3]["text"] as? String)?.contains("Nothing was changed") == true)
            #expect(try await fixture.store.request(id: request.id)?.state == .pending)

            // The reviewer signs in to confirm: the emailed sign-in link brings them back to the same
            // page with Approve preselected, and one click decides.
            let asked = try await browser.run([
                ["navigate": base + fixture.link(.approve, request: request, to: "approver1@example.test")], ["click": "#sign-in-to-confirm"], ["text": true],
            ])
            #expect((asked[2]["text"] as? String)?.contains("Check your email") == true)
            let signIn = try #require(try await fixture.store.outboxEntries(status: nil, limit: 100).last { $0.kind == .signIn && $0.recipient == "approver1@example.test" })
            let loginPath = try await fixture.signInPath(signIn)
            let confirmed = try await browser.run([
                ["navigate": base + loginPath], ["click": "#sign-in"], ["exists": "#approve.primary"], ["click": "#approve"], ["text": true],
            ])
            #expect((confirmed[1]["url"] as? String)?.contains("/link/") == true && (confirmed[1]["url"] as? String)?.contains("action=approve") == true)
            #expect(confirmed[2]["exists"] as? Bool == true)
            let clickedText = confirmed[4]["text"] as? String ?? ""
            #expect(clickedText.contains("You approved request #\(request.id)"), "after the click: \(clickedText)")
            let decided = try #require(try await fixture.store.request(id: request.id))
            #expect(decided.state == .approved && decided.decision?.channel == .link && decided.decision?.reviewer == "approver1@example.test")
            #expect(try await fixture.store.request(id: other.id)?.state == .pending)

            // Signed in as an admin: the Access Requests page and the Approvers dialog.
            let shots = try await browser.run([
                ["navigate": base + fixture.link(.login, request: nil, to: "admin@example.test")], ["click": "#sign-in"],
                ["navigate": base + "/requests"], ["exists": ".bell-dot"],
                ["screenshot": Self.screenshots.appendingPathComponent("access-requests.png").path],
                ["navigate": base + "/resources/prod-db?dialog=approvers"], ["exists": "dialog[open] #save-approvers"],
                ["screenshot": Self.screenshots.appendingPathComponent("resource-approvers-dialog.png").path],
            ])
            #expect(shots[3]["exists"] as? Bool == true)
            #expect(shots[6]["exists"] as? Bool == true)
        }
        for name in ["access-requests.png", "resource-approvers-dialog.png"] {
            let data = try Data(contentsOf: Self.screenshots.appendingPathComponent(name))
            #expect(data.count > 10_000 && data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }

    /// OIDC-1, OIDC-5 in a real browser against a real OpenID provider: a reviewer follows an approve
    /// link from an email, signs in on the provider's own form, lands on the confirmation page and
    /// approves with one click.
    @Test func reviewerSignsInThroughTheProviderFromAnApproveLink() async throws {
        let lab = try await OIDCLab.start(users: [["sub": "ann", "email": "approver1@example.test", "email_verified": true, "name": "Ann Approver"]])
        defer { lab.stop() }
        let port = try OIDCLab.freePort()
        let provider = try OpenIDProvider(configuration: OpenIDProvider.Configuration(
            issuer: lab.issuer, clientID: "approval-gateway", clientSecret: "lab-client-secret", scopes: ["openid", "email", "profile"], displayName: "Lab IdP"
        ))
        let fixture = try await WebFixture(settings: { settings in
            settings.port = port
            settings.publicURL = "http://127.0.0.1:\(port)"
            settings.identityProvider = provider
        })
        let request = try await fixture.request()
        let browser = try await HeadlessChromium()
        defer { browser.close() }
        // The provider sends the browser to the public URL, so the server runs on the port chosen above.
        let application = try await fixture.application()
        let server = Task { try await application.runService() }
        defer { server.cancel() }
        let base = fixture.settings.publicURL
        _ = try await eventually("the web server to answer", timeout: .seconds(10)) { () -> Bool? in
            (try? await lab.httpStatus(base + "/healthz")) == 200 ? true : nil
        }
        do {
            let steps = try await browser.run([
                ["navigate": base + "/login"], ["exists": "#sign-in-with-provider"],
                ["screenshot": Self.screenshots.appendingPathComponent("sign-in.png").path],
                ["navigate": base + fixture.link(.approve, request: request, to: "approver1@example.test")],
                ["click": "#sign-in-with-provider"], ["exists": "button[value=ann]"],
                ["screenshot": Self.screenshots.appendingPathComponent("oidc-provider-form.png").path],
                ["click": "button[value=ann]"], ["exists": "#approve.primary"],
                ["screenshot": Self.screenshots.appendingPathComponent("oidc-back-on-the-link.png").path],
                ["click": "#approve"], ["text": true],
            ])
            #expect(steps[1]["exists"] as? Bool == true)
            #expect((steps[4]["url"] as? String)?.hasPrefix(lab.issuer + "/oauth2/authorize") == true, "at \(steps[4]["url"] ?? "?")")
            #expect(steps[5]["exists"] as? Bool == true)
            let back = steps[7]["url"] as? String ?? ""
            #expect(back.hasPrefix(base + "/link/") && back.contains("action=approve"), "landed on \(back)")
            #expect(steps[8]["exists"] as? Bool == true)
            #expect((steps[11]["text"] as? String)?.contains("You approved request #\(request.id)") == true)
        }
        await provider.shutdown()
        let decided = try #require(try await fixture.store.request(id: request.id))
        #expect(decided.state == .approved && decided.decision?.reviewer == "approver1@example.test" && decided.decision?.channel == .link)
        for name in ["sign-in.png", "oidc-provider-form.png", "oidc-back-on-the-link.png"] {
            let data = try Data(contentsOf: Self.screenshots.appendingPathComponent(name))
            #expect(data.count > 5_000 && data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }
}
