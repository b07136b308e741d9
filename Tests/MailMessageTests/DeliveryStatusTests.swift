import Testing
@testable import MailMessage

/// LOOP-5: delivery status notifications (RFC 3464) are read per recipient.
@Suite struct DeliveryStatusTests {
    static let report = [
        "Reporting-MTA: dns; mail.example.test", "X-Postfix-Queue-ID: B69E3F790AB", "", "Final-Recipient: rfc822; ghost@bounce.example.test",
        "Original-Recipient: rfc822;ghost@bounce.example.test", "Action: failed", "Status: 5.1.1 (no such user)", "Remote-MTA: dns; 127.0.0.1",
        "Diagnostic-Code: smtp; 550 5.1.1 <ghost@bounce.example.test> User doesn't", "    exist: ghost@bounce.example.test", "",
        "Final-Recipient: rfc822; slow@example.test", "Action: delayed", "Status: 4.4.1", "",
    ]

    @Test("A Postfix report, with CRLF or LF line ends", arguments: ["\r\n", "\n"])
    func parsesPostfixReport(lineEnd: String) throws {
        let status = try #require(DeliveryStatus(text: Self.report.joined(separator: lineEnd)))
        #expect(status.recipients.count == 2)
        let failed = status.recipients[0]
        #expect(failed.finalRecipient == "ghost@bounce.example.test" && failed.action == "failed" && failed.status == "5.1.1")
        #expect(failed.diagnostic == "550 5.1.1 <ghost@bounce.example.test> User doesn't exist: ghost@bounce.example.test")
        #expect(failed.isPermanentFailure && !status.recipients[1].isPermanentFailure)
    }

    @Test("A part with no recipient block is not a report", arguments: ["", "Reporting-MTA: dns; x\r\n", "garbage without fields"])
    func notAReport(text: String) {
        #expect(DeliveryStatus(text: text) == nil)
    }

    @Test("The report is found inside a multipart/report message")
    func foundInMessage() throws {
        let raw = [
            "From: MAILER-DAEMON@example.test", "MIME-Version: 1.0", "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"", "",
            "--b", "Content-Type: text/plain", "", "sorry", "--b", "Content-Type: message/delivery-status", "",
        ] + Self.report + ["--b--", ""]
        let message = try MailMessage(parsing: raw.joined(separator: "\r\n"))
        #expect(DeliveryStatus(message)?.recipients.first?.status == "5.1.1")
        #expect(DeliveryStatus(try MailMessage(parsing: "From: a@example.test\r\n\r\nhello")) == nil)
    }
}
