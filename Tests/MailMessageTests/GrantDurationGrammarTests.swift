@testable import MailMessage
import Testing

/// `approve 1h`: an optional duration right after the approve word grants less than was asked.
@Suite("Reply grammar: a shorter grant") struct GrantDurationGrammarTests {
    static let cases: [(text: String, command: ReplyCommand, seconds: Int?, comment: String?)] = [
        ("approve 1h", .approve, 3_600, ""),
        ("Approve 30m", .approve, 1_800, ""),
        ("approve for 2 hours - on call", .approve, 7_200, "on call"),
        ("APPROVED 90 minutes: db migration", .approve, 5_400, "db migration"),
        ("approve 1h30m", .approve, 5_400, ""),
        ("approve 1 day", .approve, 86_400, ""),
        ("approve 2 people checked", .approve, nil, "2 people checked"),
        ("approve for the weekend", .approve, nil, "for the weekend"),
        ("Approved. 2h", .approve, nil, "2h"),
        ("approve 1hour", .approve, 3_600, ""),
        ("approve 3 hrs, then revoke", .approve, 10_800, "then revoke"),
        ("approve 1h2", .approve, nil, "1h2"),
        ("deny 1h", .deny, nil, "1h"),
        ("approve", .approve, nil, ""),
    ]

    @Test("A duration right after approve is read; anything else stays in the comment", arguments: cases)
    func durations(_ testCase: (text: String, command: ReplyCommand, seconds: Int?, comment: String?)) {
        let reading = CommandGrammar.read(utf8: Array(testCase.text.utf8))
        #expect(reading.command == testCase.command, "\(testCase.text)")
        #expect(reading.grantSeconds == testCase.seconds, "\(testCase.text)")
        #expect(reading.comment == testCase.comment, "\(testCase.text)")
    }

    @Test("REPLY-6 still holds: a question with a duration decides nothing")
    func questions() {
        for text in ["approve 1h?", "Approve 2 hours or deny", "approve? 1h"] {
            let reading = CommandGrammar.read(utf8: Array(text.utf8))
            #expect(reading.command == .none && reading.grantSeconds == nil, "\(text)")
        }
    }

    @Test("A reply body carries the duration to the decision")
    func replyDecision() {
        let decision = ReplyDecision(bodyText: "approve for 45 minutes\n\nOn Mon, the gateway wrote:\n> Access request")
        #expect(decision.command == .approve && decision.grantSeconds == 2_700)
    }
}
