import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayMail
import GatewayTemplates
import MailMessage
import Testing

@Suite struct NotificationRendererTests {
    func newRequestEntry(_ fixture: GatewayFixture, recipient: String) async throws -> (AccessRequest, OutboxEntry) {
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "incident 42 — replica lag", durationSeconds: 14_400), now: Date())
        let entry = try #require(try await fixture.store.outboxEntries(status: nil, limit: 100).first { $0.recipient == recipient && $0.kind == .newRequest })
        return (request, entry)
    }

    @Test("A new-request email has text and HTML parts, personal links whose tokens verify, the reply address and Auto-Submitted")
    func newRequestEmail() async throws {
        let fixture = try await GatewayFixture()
        let (request, entry) = try await newRequestEntry(fixture, recipient: "approver1@example.test")
        let email = try await fixture.renderer.render(entry, now: Date())
        let message = try MailMessage(parsing: email.raw)
        let header = { (name: String) in message.headers[name] ?? "" }
        #expect(header("Auto-Submitted") == "auto-generated")
        #expect(header("X-Auto-Response-Suppress") == "All")
        #expect(header("X-Approval-Gateway") == fixture.installation)
        #expect(header("Subject") == "[Access request #\(request.id)] Rita Requester requests prod-db for 4h")
        #expect(header("References").contains("request-\(request.id).\(fixture.installation)@example.test"))
        #expect(header("To").contains("approver1@example.test"))
        #expect(message.root.contentType.mimeType == "multipart/alternative")
        let text = try #require(message.part("text/plain"))
        let html = try #require(message.part("text/html"))
        for fact in ["Rita Requester", "prod-db", "4 hours", "incident 42 — replica lag", "Expires:", "approve", "deny"] {
            #expect(text.contains(fact), "text part lacks \(fact)")
        }
        #expect(html.contains("Approve") && html.contains("incident 42 — replica lag"))

        // Each link on its own line, each carrying a token that verifies for this reviewer.
        let signer = TokenSigner(keyRing: fixture.keyRing)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let links = lines.filter { $0.hasPrefix("http://127.0.0.1:8080/") }
        #expect(links.count == 3)
        for (prefix, purpose, action) in [("review", TokenPurpose.review, nil as String?), ("decide", .decide, "approve"), ("decide", .decide, "deny")] {
            let matching = links.filter { $0.hasPrefix("http://127.0.0.1:8080/\(prefix)/") }.compactMap { link -> TokenClaims? in
                try? signer.verify(String(link.split(separator: "/").last!), purpose: purpose, now: Date())
            }.filter { $0.action == action }
            #expect(matching.count == 1, "no \(prefix) \(action ?? "") link")
            #expect(matching.first?.subject == "approver1@example.test")
            #expect(matching.first?.requestID == request.id)
            #expect(matching.first.map { $0.expiresAt <= request.expiresAt } == true)
        }

        // The Reply-To key maps to this request and this reviewer.
        let replyTo = try AddressParser.parseSingleMailbox(header("Reply-To"))
        #expect(replyTo.localPart.hasPrefix("gateway+") && replyTo.domain == "example.test")
        #expect(replyTo.localPart.count <= 64)
        let key = try ReplyKey.verify(String(replyTo.localPart.dropFirst("gateway+".count)), ring: fixture.keyRing, now: Date())
        #expect(key.requestID == request.id)
        #expect(key.reviewerID == (try await fixture.store.userID(email: "approver1@example.test")))
    }

    @Test("LINK-11: a reason with markup is escaped in the HTML part (EMAIL_HTML, escaped over bytes) and kept as written in the text part")
    func htmlPartEscapesReason() async throws {
        let fixture = try await GatewayFixture()
        // `<` with a combining mark is one Character: the engine's own escaping, which compares
        // Characters, leaves it; the byte escaping of EMAIL_HTML does not. That it is escaped shows
        // the pragma is in force in the part and in the partial that shows the reason.
        let reason = "<script>alert('x')</script> & \"quotes\" — Zoë <\u{301}b>"
        _ = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: reason, durationSeconds: 3600), now: Date())
        let entry = try #require(try await fixture.store.outboxEntries(status: nil, limit: 100).first { $0.recipient == "approver1@example.test" && $0.kind == .newRequest })
        let message = try MailMessage(parsing: try await fixture.renderer.render(entry, now: Date()).raw)
        let html = try #require(message.part("text/html"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot; — Zoë &lt;\u{301}b&gt;"))
        #expect(!html.contains("<script>"))
        #expect(try #require(message.part("text/plain")).contains(reason))
    }

    @Test("HTMLEscaping escapes the five characters wherever they sit and leaves other text as it is", arguments: [
        ("", ""), ("plain text", "plain text"), ("<b>", "&lt;b&gt;"), ("a&b", "a&amp;b"), ("'\"'", "&#39;&quot;&#39;"), ("東京 <ø>", "東京 &lt;ø&gt;"),
    ])
    func escaping(_ value: String, _ escaped: String) {
        #expect(HTMLEscaping.escape(value) == escaped)
    }

    @Test("The outcome email names who decided and, for the requester, until when access lasts")
    func outcomeEmail() async throws {
        let fixture = try await GatewayFixture()
        let (request, _) = try await newRequestEntry(fixture, recipient: "approver1@example.test")
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .cli, comment: "on call"), now: Date())
        let entries = try await fixture.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .decided }
        // Admin was notified of the request (role admin), so admin is told who decided, like approver2.
        #expect(entries.map(\.recipient).sorted() == ["admin@example.test", "approver2@example.test", "requester1@example.test", "requester3@example.test"])
        let toRequester = try MailMessage(parsing: try await fixture.renderer.render(entries.first { $0.recipient == "requester1@example.test" }!, now: Date()).raw)
        let text = try #require(toRequester.part("text/plain"))
        #expect(text.contains("Your request for prod-db was approved by Ann Approver"))
        #expect(text.contains("You have access until"))
        #expect(text.contains("on call"))
        #expect(toRequester.headers["Reply-To"] == nil)
        #expect(toRequester.headers["In-Reply-To"]?.contains("request-\(request.id).") == true)
        let toOther = try MailMessage(parsing: try await fixture.renderer.render(entries.first { $0.recipient == "approver2@example.test" }!, now: Date()).raw)
        #expect(toOther.part("text/plain")?.contains("was approved by Ann Approver <approver1@example.test>") == true)
        #expect(toOther.headers["Subject"]?.hasPrefix("Re: [Access request #\(request.id)]") == true)
    }

    @Test("The revocation email tells the requester when, by whom and why their access ended")
    func revocationEmail() async throws {
        let fixture = try await GatewayFixture()
        let (request, _) = try await newRequestEntry(fixture, recipient: "approver2@example.test")
        let ended = Date(timeIntervalSince1970: 1_800_000_000)
        let entry = OutboxEntry(
            id: 998, kind: .grantRevoked, requestID: request.id, recipient: "requester1@example.test", reason: "requester",
            status: .pending, attempts: 0, createdAt: Date(), nextAttemptAt: Date(), sentAt: nil, lastError: nil, messageID: nil, rawMessage: nil,
            context: ["ended_at": RFC3339.string(from: ended), "revoked_by": "admin@example.test", "revoke_reason": "rotation ended"]
        )
        let message = try MailMessage(parsing: try await fixture.renderer.render(entry, now: Date()).raw)
        let text = try #require(message.part("text/plain"))
        #expect(text.contains("Your access to \(request.resource) was ended early") && text.contains("by admin@example.test"))
        #expect(text.contains("Reason: rotation ended") && text.contains("Fri, 15 Jan 2027 08:00 UTC"))
        #expect(message.headers["Subject"]?.contains("[access revoked]") == true)
    }

    @Test("Every kind renders from the shipped templates", arguments: NotificationKind.allCases)
    func everyKindRenders(kind: NotificationKind) async throws {
        let fixture = try await GatewayFixture()
        let (request, _) = try await newRequestEntry(fixture, recipient: "approver2@example.test")
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .deny, channel: .cli), now: Date())
        let entry = OutboxEntry(
            id: 999, kind: kind, requestID: kind == .signIn ? nil : request.id, recipient: "approver2@example.test", reason: "notified",
            status: .pending, attempts: 0, createdAt: Date(), nextAttemptAt: Date(), sentAt: nil, lastError: nil, messageID: nil, rawMessage: nil,
            context: ["refusal_code": "not_pending", "state": "denied", "decided_by": "approver2@example.test",
                      "link_expires": RFC3339.string(from: Date().addingTimeInterval(900)), "comment": "c"]
        )
        let message = try MailMessage(parsing: try await fixture.renderer.render(entry, now: Date()).raw)
        #expect(message.part("text/plain")?.isEmpty == false)
        #expect(message.part("text/html")?.isEmpty == false)
        #expect(message.headers["Subject"]?.isEmpty == false)
        let expected = [NotificationKind.replyConfirmation, .replyRefusal].contains(kind) ? "auto-replied" : "auto-generated"
        #expect(message.headers["Auto-Submitted"] == expected)
    }
}

extension MailMessage {
    /// The decoded text of the first part of type `mimeType`.
    func part(_ mimeType: String) -> String? {
        allParts.first { $0.contentType.mimeType == mimeType }?.text()
    }
}

/// The templates built into the binary are the ones in templates/ (scripts/embed-templates).
@Suite struct EmbeddedTemplatesTests {
    @Test("Every file of templates/ is built in, unchanged")
    func embeddedTemplatesMatchTheFolder() throws {
        let root = GatewayFixture.projectRoot.appendingPathComponent("templates")
        var onDisk: [String: String] = [:]
        for folder in ["email", "web"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path) {
                onDisk["\(folder)/\(name)"] = try String(contentsOf: root.appendingPathComponent(folder).appendingPathComponent(name), encoding: .utf8)
            }
        }
        #expect(Set(EmbeddedTemplates.files.keys) == Set(onDisk.keys), "run scripts/embed-templates")
        for (path, text) in onDisk { #expect(EmbeddedTemplates.files[path] == text, "\(path) differs: run scripts/embed-templates") }
    }

    @Test("The built-in email templates render every kind")
    func builtInTemplatesLoad() async throws {
        _ = try await EmailTemplates(directory: nil)
    }
}
