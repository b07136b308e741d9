import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GRDB
@testable import GatewayStore
import GatewayTestSupport
import MailTransport
import Testing

/// Secrets at rest: once SMTP has accepted an email, the database keeps its headers (reply keys
/// redacted), its Message-ID and a digest, never its body; sign-in links are never stored.
@Suite(.serialized) struct SecretsAtRestTests {
    @Test("After sending, no link token, sign-in link or reply key is anywhere in the database")
    func noLiveSecretsAfterSending() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "secrets", durationSeconds: 3600), now: Date())
        #expect(try await fixture.gateway.service.requestSignInLink(email: "approver2@example.test", client: "127.0.0.1") == .sent)
        let queued = try await fixture.store.outboxEntries(status: .pending, limit: 100)
        #expect(queued.first { $0.kind == .signIn }.map { $0.context["login_url"] == nil } == true)

        let worker = fixture.worker(sender: SMTPEmailSender(sender: SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.smtpURL, startTLS: .opportunistic, caFile: MailLab.caFile, ehloName: "example.test"
        ))))
        #expect(try await worker.drainOnce() == 5)
        let marker = "X-Approval-Gateway: \(fixture.installation)"
        let delivered = try await MailLab.waitForMessages(for: "approver2@example.test", containing: marker, count: 2)

        // The secrets the recipients hold: every link token, and the reply key of the reply address.
        var secrets: Set<String> = []
        for message in delivered {
            for prefix in ["/review/", "/decide/", "/login/"] {
                var rest = Substring(message)
                while let range = rest.range(of: prefix) {
                    let token = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }
                    if token.count > 40 { secrets.insert(String(token)) }
                    rest = rest[range.upperBound...]
                }
            }
            if let range = message.range(of: "gateway+") {
                let key = message[range.upperBound...].prefix { $0.isLetter || $0.isNumber }
                if key.count >= 10 { secrets.insert(String(key)) }
            }
        }
        #expect(secrets.count >= 5, "tokens found in the delivered mail: \(secrets.count)")
        #expect(secrets.contains { $0.count < 40 }, "no reply key found in the delivered mail")

        // Every value of every table, as text and as bytes.
        let held = secrets
        let found = try await fixture.store.pool.read { db -> [String] in
            var hits: [String] = []
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"") {
                    for (column, value) in row {
                        let text: String
                        switch value.storage {
                        case .string(let string): text = string
                        case .blob(let data): text = String(decoding: data, as: UTF8.self)
                        default: continue
                        }
                        let lowered = text.lowercased()
                        for secret in held where text.contains(secret) || lowered.contains(secret.lowercased()) {
                            hits.append("\(table).\(column): \(secret.prefix(12))…")
                        }
                    }
                }
            }
            return hits
        }
        #expect(found.isEmpty, "\(found)")

        // What is kept: the headers (with the reply key redacted) and the digest.
        let sent = try await fixture.store.read { tx in try tx.outboxEntries(status: .sent, limit: 100) }
        #expect(sent.count == 5)
        let notification = try #require(sent.first { $0.kind == .newRequest && $0.recipient == "approver2@example.test" })
        let headers = String(decoding: try #require(notification.rawMessage), as: UTF8.self)
        #expect(headers.contains("Message-ID:") && headers.contains("gateway+redacted@example.test") && !headers.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\n"))
        #expect(!headers.contains("\r\n\r\n"))
        _ = request
    }
}
