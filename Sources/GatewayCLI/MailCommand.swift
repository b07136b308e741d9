import ArgumentParser

/// `approval-gateway mail ...`
struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Parse and inspect mail; test the SMTP and IMAP settings.",
        subcommands: [
            MailParseCommand.self, MailExtractCommand.self, MailInspectCommand.self,
            MailSendTestCommand.self, MailCheckInboxCommand.self, MailBenchSMTPCommand.self, MailBenchIMAPCommand.self,
        ]
    )
}
