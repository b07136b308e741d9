import Foundation
import MailMessage
import MailTransport

/// Whether recent messages of the gateway's mailbox carry the receiving server's
/// `Authentication-Results` stamp where the reply check looks for it (REPLY-3). A receiving server
/// that stamps nothing (misconfigured, a milter failing open) makes every reply fail, and leaves a
/// forged field as the only one: `mail check-inbox` says so before replies are refused.
struct StampReport: Encodable, Sendable {
    var trustedAuthservID: String
    var checked: Int
    var missing: Int
    /// Why the first messages without a stamp have none.
    var examples: [String]

    enum CodingKeys: String, CodingKey {
        case trustedAuthservID = "trusted_authserv_id", checked, missing, examples
    }
}

/// Looks at the last `limit` messages of each of `folders` (missing folders are skipped).
func checkStamps(imap: IMAPConfiguration, folders: [String], trustedAuthservID: String, limit: Int) async throws -> StampReport {
    let mailbox = IMAPMailbox(configuration: imap)
    var report = StampReport(trustedAuthservID: trustedAuthservID, checked: 0, missing: 0, examples: [])
    let existing = Set(try await mailbox.listMailboxes())
    for folder in folders where existing.contains(folder) {
        _ = try await mailbox.select(folder)
        for uid in try await mailbox.uidsAfter(0).suffix(limit) {
            guard let raw = try await mailbox.fetchRaw(uid: uid), let message = try? MailMessage(parsing: raw) else { continue }
            report.checked += 1
            if case .failure(let problem) = SenderAuthentication.receivingServerStamp(message.headers, trustedAuthservID: trustedAuthservID) {
                report.missing += 1
                if report.examples.count < 3 { report.examples.append("\(folder) UID \(uid): \(problem.reason)") }
            }
        }
    }
    await mailbox.close()
    return report
}
