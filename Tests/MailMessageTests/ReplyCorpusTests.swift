import Foundation
import Testing
@testable import MailMessage

/// Quote markers in the languages and formats that mail clients write, one case per language and
/// style, and the real-world reply corpus in `Fixtures/replies`.
@Suite("Multilingual quote markers")
struct MultilingualMarkerTests {
    /// The reply above every marker; the quoted part below holds a competing command.
    static let reply = "Approve - looks fine\nthanks for checking"

    static func body(_ marker: String) -> String {
        reply + "\n\n" + marker + "\n\n> Approval request #1\n> Deny\nDeny\n"
    }

    static func expectCut(_ marker: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let b = body(marker)
        #expect(ReplyExtractor.extract(b).trimmingCharacters(in: .whitespacesAndNewlines) == reply, sourceLocation: sourceLocation)
        let d = ReplyDecision(bodyText: b)
        #expect(d.command == .approve, sourceLocation: sourceLocation)
        #expect(d.comment == "looks fine thanks for checking", sourceLocation: sourceLocation)
        // The marker and the quote alone never decide.
        #expect(ReplyDecision(bodyText: marker + "\n\n> Approve\nApprove\n").command == .none, sourceLocation: sourceLocation)
    }

    @Test("attribution lines", arguments: [
        ("en", "On Mon, Jan 8, 2024 at 10:00 AM Bob Smith <bob@example.com> wrote:"),
        ("fr", "Le lun. 8 janv. 2024 à 10:00, Bob Smith <bob@example.com> a écrit :"),
        ("fr wrapped", "Le lun. 15 janv. 2025 à 17:03, Bob Smith <bob@example.com>\na écrit:"),
        ("es", "El lun, 8 ene 2024 a las 10:00, Bob Smith (<bob@example.com>) escribió:"),
        ("es wrapped", "El lun, 15 ene 2025 a las 17:03, Bob Smith <bob@example.com>\nescribió:"),
        ("it", "Il giorno lun 8 gen 2024 alle ore 10:00 Bob Smith <bob@example.com> ha scritto:"),
        ("it wrapped", "Il lun 15 gen 2025 alle 17:03, Bob Smith <bob@example.com>\nha scritto:"),
        ("pt", "Em seg., 8 de jan. de 2024 às 10:00, Bob Smith <bob@example.com> escreveu:"),
        ("nl", "Op ma 8 jan. 2024 om 10:00 schreef Bob Smith <bob@example.com>:"),
        ("nl Apple", "Op 17-feb.-2015, om 13:18 heeft Bob Smith <bob@example.com> het volgende geschreven:"),
        ("pl", "W dniu 8.01.2024 o 10:00, Bob Smith <bob@example.com> pisze:"),
        ("pl user", "W dniu 28 stycznia 2015 01:53 użytkownik Bob Smith <bob@example.com> napisał:"),
        ("ru", "08.01.2024 10:00, Bob Smith пишет:"),
        ("ru Gmail", "пн, 8 янв. 2024 г. в 10:00, Bob Smith <bob@example.com>:"),
        ("uk", "пн, 8 січ. 2024 р. о 10:00 Bob Smith <bob@example.com> написав:"),
        ("sv", "Den mån 8 jan. 2024 kl 10:00 skrev Bob Smith <bob@example.com>:"),
        ("sv wrapped", "Den mån 15 jan. 2025 17:03 skrev Bob Smith <\nbob@example.com>:"),
        ("no", "man. 8. jan. 2024 kl. 10:00 skrev Bob Smith <bob@example.com>:"),
        ("da", "Den 14 september, 2015 02:23:18, Bob Smith (bob@example.com) skrev:"),
        ("da Gmail", "15. marts 2017 kl. 11.00 skrev Bob Smith <bob@example.com>:"),
        ("de", "Am Mo., 8. Jan. 2024 um 10:00 Uhr schrieb Bob Smith <bob@example.com>:"),
        ("cs", "Dne po 15. led. 2025 17:03 Bob Smith <bob@example.com>\nnapsal(a):"),
        ("zh", "Bob Smith <bob@example.com> 于2024年1月8日周一 10:00写道："),
        ("zh date first", "2026年2月29日 周六 19:47 Bob Smith <bob@example.com> 写道："),
        ("ja", "2024年1月8日(月) 10:00 Bob Smith <bob@example.com>:"),
        ("ISO date, address wrapped", "2014-10-17 11:28 GMT+03:00 Bob Smith <\nbob@example.com>:"),
        ("numeric date, no colon, above the quote", "2011/4/7 Bob Smith <bob@example.com>"),
    ] as [(String, String)])
    func attributions(language: String, marker: String) {
        Self.expectCut(marker)
    }

    /// Header-block labels per language: from, sent, to, subject.
    static let headerBlocks: [(String, [String])] = [
        ("en", ["From", "Sent", "To", "Subject"]),
        ("fr", ["De ", "Envoyé ", "À ", "Objet "]),
        ("es", ["De", "Enviado", "Para", "Asunto"]),
        ("pt", ["De", "Enviada em", "Para", "Assunto"]),
        ("it", ["Da", "Inviato", "A", "Oggetto"]),
        ("nl", ["Van", "Verzonden", "Aan", "Onderwerp"]),
        ("pl", ["Od", "Wysłano", "Do", "Temat"]),
        ("ru", ["От", "Отправлено", "Кому", "Тема"]),
        ("uk", ["Від", "Надіслано", "Кому", "Тема"]),
        ("sv", ["Från", "Skickat", "Till", "Ämne"]),
        ("no/da", ["Fra", "Sendt", "Til", "Emne"]),
        ("de", ["Von", "Gesendet", "An", "Betreff"]),
        ("zh", ["发件人", "发送时间", "收件人", "主题"]),
        ("zh-Hant", ["寄件者", "寄件日期", "收件者", "主旨"]),
    ]

    /// How the labels are written: plain, Outlook's `*bold*` (plain-text view of bold), Markdown
    /// `**bold**`, and full-width colons.
    static let styles: [(String, @Sendable (String) -> String)] = [
        ("plain", { "\($0):" }),
        ("bold", { "*\($0):*" }),
        ("markdown", { "**\($0):**" }),
        ("full-width colon", { "\($0)：" }),
    ]

    @Test("header blocks", arguments: 0..<headerBlocks.count, 0..<styles.count)
    func headerBlock(language: Int, style: Int) {
        let (_, labels) = Self.headerBlocks[language]
        let format = Self.styles[style].1
        let values = ["Bob Smith <bob@example.com>", "Monday, January 8, 2024 10:00 AM", "Alice", "Approval request #1"]
        let block = zip(labels, values).map { format($0) + " " + $1 }.joined(separator: "\n")
        Self.expectCut(block)
    }

    @Test("a header block that starts with the date", arguments: [
        "Date: Wed, 16 May 2012 00:15:02 -0600\nTo: alice@example.com",
        "Date: Fri, 28 Sep 2012 10:55:48 +0000\nFrom: tickets@example.com\nTo: alice@example.com",
        "Datum: 8. Januar 2024 10:00\nVon: Bob Smith",
        "Fecha: 8 de enero de 2024 10:00\nPara: Alice",
    ])
    func dateFirstBlock(marker: String) {
        Self.expectCut(marker)
    }

    @Test("forwarded and original-message banners", arguments: [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "-------- Message transféré --------",
        "Début du message réexpédié :",
        "---------- Mensaje reenviado ---------",
        "-------- Messaggio inoltrato --------",
        "---------- Mensagem encaminhada ---------",
        "---------- Weitergeleitete Nachricht ----------",
        "Anfang der weitergeleiteten Nachricht:",
        "-------- Doorgestuurd bericht --------",
        "-------- Wiadomość przekazana dalej --------",
        "-------- Пересланное сообщение --------",
        "Начало пересылаемого сообщения:",
        "-------- Переслане повідомлення --------",
        "-------- Vidarebefordrat meddelande --------",
        "-------- Videresendt melding --------",
        "---------- 转发邮件信息 ----------",
        "-----Original Message-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Messaggio originale-----",
        "-----Oorspronkelijk bericht-----",
        "-----Oryginalna wiadomość-----",
        "-----Исходное сообщение-----",
        "-----Ursprungligt meddelande-----",
        "-----Oprindelig meddelelse-----",
        "------------------ 原始邮件 ------------------",
    ])
    func banners(marker: String) {
        Self.expectCut(marker)
    }

    @Test("a reply and an attribution on one line", arguments: [
        ("reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:", "reply"),
        ("reply--- On Wed, Apr 4, 2012 at 3:59 PM, me@domain.com wrote:", "reply"),
        ("Approve - ok Le lun. 8 janv. 2024 à 10:00, Bob <bob@example.com> a écrit :", "Approve - ok"),
    ] as [(String, String)])
    func sharedLine(line: String, reply: String) {
        #expect(ReplyExtractor.extract(line + "\n> Hi\n") == reply)
    }

    @Test("lines that only look like markers are kept", arguments: [
        "2024-01-08 is the date for bob@example.com",
        "Date: to be decided\nTo: the team",
        "I said On Monday that it works:",
        "Approve, from: finance@example.com on 2024-01-08",
        "1.2.3 released by bob@example.com",
    ])
    func keptLines(text: String) {
        let body = "Approve\n" + text + "\n\nRegards"
        #expect(ReplyExtractor.extract(body) == body)
    }
}

/// The real-world reply corpus: messages and the reply texts that other projects' tests assert (see
/// `Fixtures/replies/SOURCES.md`).
@Suite("Real-world reply corpus")
struct RealWorldReplyCorpusTests {
    /// Exact-match rates of the two Python reply parsers on this corpus, measured with
    /// `scripts/bench-replies` (talon 1.4.4: 93 of 116; email_reply_parser 0.5.12: 54 of 116).
    static let talonRate = 93.0 / 116.0
    static let emailReplyParserRate = 54.0 / 116.0

    struct Entry: Decodable {
        let id: String
        let source: String
        let file: String
        let expected: String
    }

    /// NFC, whitespace runs collapsed to one space, ends trimmed (as the benchmark normalises).
    static func normalized(_ s: String) -> String {
        s.precomposedStringWithCanonicalMapping.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    static func entries() throws -> [Entry] {
        let url = Fixtures.root.appendingPathComponent("replies/manifest.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Entry.self, from: Data($0.utf8)) }
    }

    @Test("the extracted reply matches at least as often as the better Python parser")
    func matchRate() throws {
        let all = try Self.entries()
        #expect(all.count == 116)
        var matches = 0
        var misses: [String] = []
        for e in all {
            let raw = try Data(contentsOf: Fixtures.root.appendingPathComponent("replies").appendingPathComponent(e.file))
            let message = try MailMessage(parsing: [UInt8](raw))
            let reply = ReplyDecision(message: message).replyText
            if Self.normalized(reply) == Self.normalized(e.expected) { matches += 1 } else { misses.append(e.id) }
        }
        let rate = Double(matches) / Double(all.count)
        #expect(rate >= max(Self.talonRate, Self.emailReplyParserRate), "matched \(matches) of \(all.count); missed: \(misses)")
    }

    @Test("no corpus message decides from quoted text alone")
    func quotedOnlyNeverDecides() throws {
        for e in try Self.entries() {
            let raw = try Data(contentsOf: Fixtures.root.appendingPathComponent("replies").appendingPathComponent(e.file))
            let d = ReplyDecision(message: try MailMessage(parsing: [UInt8](raw)))
            // None of these messages is an approval reply; a command would come from quoted text.
            #expect(d.command == .none, "\(e.id)")
        }
    }
}
