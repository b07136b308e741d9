import Testing
@testable import MailMessage

@Suite("Command grammar")
struct CommandGrammarTests {
    @Test("commands", arguments: [
        ("Approve.", ReplyCommand.approve, ""),
        ("APPROVED - looks fine", .approve, "looks fine"),
        ("deny: not needed", .deny, "not needed"),
        ("Rejected — budget", .deny, "budget"),
        ("  \tapproved!!", .approve, ""),
        ("\u{3000}Approve\u{00A0}– ok", .approve, "ok"),
        ("denied... later\nsecond line\n\nThanks,\nBob", .deny, "later second line"),
        ("\n\nreject, 👍 ship it", .deny, "👍 ship it"),
        ("Approve: Cafe\u{301}", .approve, "Café"),                     // NFC
        // REPLY-6: these still decide.
        ("approve", .approve, ""),
        ("Approved.", .approve, ""),
        ("APPROVE - on call", .approve, "on call"),
        ("Denied, see ticket 12", .deny, "see ticket 12"),
        ("Deny: approved for 2 seats only, not 25", .deny, "approved for 2 seats only, not 25"),
        ("Approve - is that ok? yes it is.\nsecond", .approve, "is that ok? yes it is. second"),
        ("Approved, and reviewed by legal", .approve, "and reviewed by legal"),
    ] as [(String, ReplyCommand, String)])
    func commands(text: String, command: ReplyCommand, comment: String) {
        let (c, m) = CommandGrammar.decide(text)
        #expect(c == command)
        #expect(m == comment)
    }

    @Test("REPLY-6: unclear replies never decide", arguments: [
        "yes", "ok", "LGTM", "No.", "+1", "Approval needs Sarah", "Approver changed", "Not approved",
        "Hi Alice,\n\nApproved", "approvedx", "Approve_it", "Deny2", "approveé", "I approve", "", "   \n  ",
        "Approving now", "Rejecting is not an option", "Denying this",
    ])
    func notCommands(text: String) {
        let (c, m) = CommandGrammar.decide(text)
        #expect(c == .none)
        #expect(m == nil)
    }

    static let questionsAndBoth = [
        "Approve? Let me check first", "approve or deny?", "Approved?", "not approved", "don't approve",
        "I would not approve this", "approve?!", "deny?", "Approve ? later", "approve / deny", "deny or approve",
        "Approved and denied", "rejected, or approve", "Approve - or deny", "承認? approve？", "Approve - is that enough?",
    ]

    @Test("REPLY-6: a question, or a line naming both approve and deny, never decides (any case, trailing spaces)",
          arguments: questionsAndBoth.flatMap { [$0, $0.uppercased(), $0 + "   ", $0.prefix(1).uppercased() + $0.dropFirst()] })
    func questionsNeverDecide(text: String) {
        let reading = CommandGrammar.read(utf8: Array(text.utf8))
        #expect(reading.command == .none, "\(text)")
        #expect(reading.comment == nil)
        #expect(reading.reason != nil)
    }

    @Test("REPLY-6: the reason names what was unclear")
    func reasons() {
        #expect(CommandGrammar.read(utf8: Array("Approve? Let me check first".utf8)).reason == .question)
        #expect(CommandGrammar.read(utf8: Array("approve or deny".utf8)).reason == .bothCommands)
        #expect(CommandGrammar.read(utf8: Array("I would not approve this".utf8)).reason == .notACommand)
    }

    @Test("TEST-3 / REPLY-6: a body that is only quoted text never decides (seeded property test)")
    func quotedOnlyNeverDecides() throws {
        var rng = SeededRNG(seed: 42)
        let words = ["Approve", "approved", "Deny", "reject", "ok", "see below", "", "Approve - fine", "DENIED"]
        for _ in 0..<300 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let w = words.randomElement(using: &rng)!
                lines.append(String(repeating: ">", count: Int.random(in: 1...3, using: &rng)) + (Bool.random(using: &rng) ? " " : "") + w)
            }
            let lead = ["", "\n", "  \n", "\u{00A0}\n"].randomElement(using: &rng)!
            let d = ReplyDecision(bodyText: lead + lines.joined(separator: "\n"))
            #expect(d.command == .none)
        }
    }
}

@Suite("Reply extraction")
struct ReplyExtractorTests {
    /// Each case: a reply, then quoted history written the way a client in some language writes it.
    /// The expected reply text is the part above the marker.
    @Test("attribution lines, header blocks and banners in many languages", arguments: [
        "On Mon, Jan 8, 2024 at 10:00 AM Approval Gateway <approvals@gateway.example.com> wrote:",
        "On Mon, Jan 8, 2024 at 10:00 AM Approval Gateway <\napprovals@gateway.example.com> wrote:",
        "Am Mo., 8. Jan. 2024 um 10:00 Uhr schrieb Approval Gateway <approvals@gateway.example.com>:",
        "Le lun. 8 janv. 2024 à 10:00, Approval Gateway <approvals@gateway.example.com> a écrit :",
        "El lun, 8 ene 2024 a las 10:00, Approval Gateway (<approvals@gateway.example.com>) escribió:",
        "Il giorno lun 8 gen 2024 alle ore 10:00 Approval Gateway <approvals@gateway.example.com> ha scritto:",
        "Em seg., 8 de jan. de 2024 às 10:00, Approval Gateway <approvals@gateway.example.com> escreveu:",
        "Op ma 8 jan. 2024 om 10:00 schreef Approval Gateway <approvals@gateway.example.com>:",
        "W dniu 8.01.2024 o 10:00, Approval Gateway pisze:",
        "пн, 8 янв. 2024 г. в 10:00, Approval Gateway <approvals@gateway.example.com>:",
        "08.01.2024 10:00, Approval Gateway пишет:",
        "пн, 8 січ. 2024 р. о 10:00 Approval Gateway <approvals@gateway.example.com> пише:",
        "Den mån 8 jan. 2024 kl 10:00 skrev Approval Gateway <approvals@gateway.example.com>:",
        "man. 8. jan. 2024 kl. 10:00 skrev Approval Gateway <approvals@gateway.example.com>:",
        "Approval Gateway <approvals@gateway.example.com> 于2024年1月8日周一 10:00写道：",
        "2024年1月8日(月) 10:00 Approval Gateway <approvals@gateway.example.com>:",
        "2024년 1월 8일 (월) 오전 10:00, Approval Gateway <approvals@gateway.example.com>님이 작성:",
        "-----Original Message-----\nFrom: Approval Gateway\nSent: Monday",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "---------- Forwarded message ---------\nFrom: Approval Gateway <approvals@gateway.example.com>",
        "Begin forwarded message:",
        "________________________________\nFrom: Approval Gateway",
        "From: Approval Gateway <approvals@gateway.example.com>\nSent: Monday, January 8, 2024 10:00 AM\nTo: Alice",
        "*From:* Approval Gateway <approvals@gateway.example.com>\n*Sent:* Monday, January 8, 2024 10:00 AM",
        "**From:** Approval Gateway\n**Date:** Monday",
        "De : Approval Gateway <approvals@gateway.example.com>\nEnvoyé : lundi 8 janvier 2024 10:00\nÀ : Alice",
        "De: Approval Gateway\nEnviado el: lunes, 8 de enero de 2024 10:00\nPara: Alice",
        "Da: Approval Gateway\nInviato: lunedì 8 gennaio 2024 10:00\nA: Alice",
        "Van: Approval Gateway\nVerzonden: maandag 8 januari 2024 10:00\nAan: Alice",
        "Od: Approval Gateway\nWysłano: poniedziałek, 8 stycznia 2024 10:00\nDo: Alice",
        "От: Approval Gateway\nОтправлено: 8 января 2024 г. 10:00\nКому: Alice",
        "Від: Approval Gateway\nНадіслано: 8 січня 2024 р. 10:00",
        "Från: Approval Gateway\nSkickat: den 8 januari 2024 10:00\nTill: Alice",
        "Fra: Approval Gateway\nSendt: 8. januar 2024 10:00\nTil: Alice",
        "发件人: Approval Gateway\n发送时间: 2024年1月8日 10:00\n收件人: Alice",
        "寄件者: Approval Gateway\n寄件日期: 2024年1月8日\n收件者: Alice",
        "差出人: Approval Gateway\n送信日時: 2024年1月8日月曜日 10:00",
        "------------------ 原始邮件 ------------------",
        "> On Jan 8, Approval Gateway wrote:",
        "--\nAlice Example\nIT Operations",
        "Sent from my iPhone",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Отправлено с iPhone",
        "Skickat från min iPhone",
        "发自我的iPhone",
        "Get Outlook for Android",
        "Von meinem iPhone gesendet",
        "iPhoneから送信",
    ])
    func markers(marker: String) {
        let reply = "Approve - looks fine\nthanks for checking"
        let body = reply + "\n\n" + marker + "\n\n> Approval request #1\n> Deny\n"
        #expect(ReplyExtractor.extract(body).trimmingCharacters(in: .whitespacesAndNewlines) == reply)
        let d = ReplyDecision(bodyText: body)
        #expect(d.command == .approve)
        #expect(d.comment == "looks fine thanks for checking")
    }

    @Test("ordinary reply lines are not cut", arguments: [
        "Approved - meeting at 10:30 with bob@example.com",
        "Approved: see the note from finance:",
        "Approved - from: finance",
        "Approve -- with a double dash in the text",
        "Approve; the 2024/25 budget covers it:",
        "Deny - sent from the office, not needed",
    ])
    func notCut(line: String) {
        let body = line + "\nsecond line\n\nRegards"
        #expect(ReplyExtractor.extract(body) == body)
    }

    @Test("the reference's wrapped-attribution rule needs a short second line")
    func wrappedAttributionLength() {
        let body = "Approve\n\nOn Monday the team\nwrote a very long sentence that ends with a colon and more text:\nnext"
        #expect(ReplyExtractor.extract(body) == body)
    }
}

@Suite("HTML to text")
struct HTMLToTextTests {
    @Test("blocks, breaks, blockquote, hr, entities, skipped elements", arguments: [
        ("<div>Approve</div><div><br></div><div>Thanks</div>", "Approve\n\nThanks"),
        ("<p>a &amp; b&nbsp;c &lt;d&gt; &#233;&#x1F44D; &euro;&copy</p>", "a & b\u{00A0}c <d> é👍 €©"),
        ("<blockquote>quoted<blockquote>deeper</blockquote></blockquote>after", "> quoted\n> > deeper\nafter"),
        ("before<hr>after", "before\n________________________________\nafter"),
        ("<head><title>T</title><style>p{}</style></head><body>text<script>x<y</script></body>", "text"),
        ("<p>a\n   b\t\tc</p>", "a b c"),
        ("<!-- comment <p>not</p> -->shown<!--[if mso]>x<![endif]-->", "shown"),
        ("<a href=\"x>y\" title='q'>link</a>", "link"),
        ("<p class=MsoNormal>Approve<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Thanks<o:p></o:p></p>", "Approve\n\nThanks"),
        ("<head><title>unclosed head<body>Approve", "Approve"),
        ("unterminated <a href=\"x", "unterminated "),
        ("&#0;&#xD800;&#99999999;", "\u{FFFD}\u{FFFD}\u{FFFD}"),
    ])
    func convert(html: String, text: String) {
        #expect(HTMLToText.convert(html) == text)
    }

    @Test("Outlook web HTML reply: hr and header block cut the reply")
    func outlookWeb() throws {
        let html = "<div>Deny: budget frozen</div><div><br></div><div>Bob</div><hr><div id=divRplyFwdMsg><b>From:</b> Gateway<br><b>Sent:</b> Monday</div><div>Approve</div>"
        let m = try parse("Content-Type: text/html; charset=utf-8\n\n" + html)
        let d = ReplyDecision(message: m)
        #expect(d.command == .deny)
        #expect(d.comment == "budget frozen")
        #expect(d.replyText == "Deny: budget frozen\n\nBob")
    }
}

@Suite("Automated mail (LOOP-1, LOOP-2)")
struct AutomatedMailTests {
    @Test("LOOP-1: automated mail is never a command", arguments: [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated (vacation)",
        "X-Autoreply: yes",
        "X-Autorespond: anything",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: list",
        "Precedence: auto_reply",
        "Return-Path: <>",
        "X-Approval-Gateway: 1",
    ])
    func automatedHeaders(header: String) throws {
        let m = try parse("From: alice@example.com\n\(header)\n\nApprove - ok\n")
        let d = ReplyDecision(message: m)
        #expect(d.command == .none)
        guard case .automated = d.noCommandReason else { Issue.record("not automated: \(String(describing: d.noCommandReason))"); return }
    }

    @Test("LOOP-1: system senders", arguments: [
        "Mail Delivery System <MAILER-DAEMON@mx.example.com>", "postmaster@example.com", "noreply@example.com",
        "\"No Reply\" <no-reply@example.com>",
    ])
    func systemSenders(from: String) throws {
        let m = try parse("From: \(from)\n\nApproved\n")
        #expect(ReplyDecision(message: m).command == .none)
    }

    @Test("Auto-Submitted: no is a person")
    func autoSubmittedNo() throws {
        let m = try parse("From: alice@example.com\nAuto-Submitted: no\n\nApproved\n")
        #expect(ReplyDecision(message: m).command == .approve)
    }

    @Test("LOOP-1: a top-level multipart/report is a bounce even if it contains a command")
    func report() throws {
        let m = try parse("""
        From: alice@example.com
        Content-Type: multipart/report; report-type=delivery-status; boundary=r

        --r
        Content-Type: text/plain

        Approve - looks fine
        --r--
        """)
        #expect(ReplyDecision(message: m).noCommandReason == .automated(.report))
    }
}
