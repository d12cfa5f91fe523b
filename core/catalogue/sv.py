"""Swedish: the reference. Every other language is checked against its keys and placeholders
(tests/unit/test_catalogue.py), and a key another language lacks falls back to it."""

SV: dict[str, str] = {
    # --- the reminder SMS (the contract's words)
    "reminder": "Hej! Det här är en påminnelse om att du har pass kvar att närvaroregistrera/signera i {app} "
                "för {month}",
    # --- months
    "month.not_started": "{month} har inte börjat än. Välj en månad som har varit, t.ex. {example}.",
    "month.implicit": "Ingen månad angiven, så jag tog förra månaden ({month}).",
    "month.without_year": "Du skrev {name} utan år, så jag tog {month}.",
    # --- narrowing
    "scope.recipient": "brukare {name}",
    "scope.supervisor": "arbetsledare {name}",
    "scope.person": "person {name}",
    "scope.join": ", ",
    "find.no_recipient": "Hittar ingen brukare som heter '{name}' bland dina brukare.",
    "find.many_recipients": "Flera brukare matchar: {names}. Skriv hela namnet.",
    "find.no_supervisor": "Hittar ingen arbetsledare som heter '{name}'.",
    "find.many_supervisors": "Flera arbetsledare matchar: {names}. Skriv hela namnet.",
    "find.not_supervised": "{supervisor} är inte arbetsledare för {recipient}.",
    "find.no_person": "Hittar ingen som heter eller har numret '{who}' bland dina assistenter.",
    "find.many_people": "Flera matchar '{who}': {options}. Skriv hela namnet eller mobilnumret.",
    "find.no_mobile": "ingen mobil",
    "find.deactivated": "{name} finns inte längre i personallistan (avslutad i verksamhetssystemet). Ingen påminnelse "
                        "skickad.",
    # --- why someone is not reminded ("{n} {reason}")
    "reason.due": "redo",
    "reason.nothing_to_report": "har inget kvar att rapportera",
    "reason.reminders_off": "har påminnelser avstängda",
    "reason.recipient_reminders_off": "arbetar hos brukare med påminnelser avstängda",
    "reason.no_mobile": "saknar mobilnummer",
    "reason.reminded_recently": "fick påminnelse de senaste 2 timmarna",
    "reason.waiting": "har en påminnelse som väntar på att skickas",
    "status.part.waiting": "{n} väntar på att skickas",
    "one.waiting": "Ingen ny påminnelse skickad: {name} har redan en påminnelse för {month} som väntar på att skickas.",
    "list.join": ", ",
    # --- PÅMINN ALLA
    "round.sent.one": "{n} påminnelse för {month}{scope} skickade ({segments} SMS-delar).",
    "round.sent.other": "{n} påminnelser för {month}{scope} skickade ({segments} SMS-delar).",
    "round.held": "Inte skickade: {held}.",
    "round.done": "{n} har redan rapporterat allt.",
    "round.quiet": "Tysta timmar: SMS:en går ut kl {time}.",
    "round.none.no_shifts": "0 påminnelser för {month}{scope} skickade: ingen har pass den månaden.",
    "round.none.all_done": "0 påminnelser för {month}{scope} skickade: alla med pass den månaden har redan "
                           "rapporterat allt.",
    "round.none.one_reason.one": "0 påminnelser för {month}{scope} skickade: den enda med pass kvar {reason}.",
    "round.none.one_reason.other": "0 påminnelser för {month}{scope} skickade: alla {n} med pass kvar {reason}.",
    "round.none.mixed": "0 påminnelser för {month}{scope} skickade: ingen med pass kvar kunde påminnas.",
    "team.round": "{coordinator} skickade påminnelser för {month}{scope}: {sent} skickade.",
    "team.round.held": " Inte skickade: {held}.",
    "team.round.quiet": " Går ut kl {time} (tysta timmar).",
    # --- PÅMINN <namn>
    "one.sent": "Påminnelse för {month} skickad till {name}{where}.{later}",
    "one.later": " Den går ut kl {time} (tysta timmar).",
    "one.no_shifts": "{name} har inga pass i {month}.",
    "one.nothing_to_report": "Ingen påminnelse skickad: {name} har inget kvar att rapportera för {month}.",
    "one.reminders_off": "Ingen påminnelse skickad: {name} har påminnelser avstängda för {month}.",
    "one.recipient_reminders_off": "Ingen påminnelse för {month} skickad: {name} har bara pass kvar hos brukare "
                                   "med påminnelser avstängda.",
    "one.no_mobile": "Ingen påminnelse för {month} skickad: {name} har inget mobilnummer.",
    # --- STATUS
    "status.head": "Status {month}{scope}: {parts}.",
    "status.part.ready": "{n} redo",
    "status.part.recent": "{n} nyss påminda",
    "status.part.off": "{n} avstängda",
    "status.part.no_mobile": "{n} saknar mobil",
    "status.part.done": "{n} klara",
    "status.list.ready": "Redo för påminnelse ({n}):",
    "status.list.off": "Med påminnelser avstängda ({n}):",
    "status.list.no_mobile": "Utan mobilnummer ({n}):",
    "status.list.all": "Alla med pass ({n}):",
    "status.empty.ready": "Ingen redo för påminnelse.",
    "status.empty.off": "Ingen med påminnelser avstängda.",
    "status.empty.no_mobile": "Ingen utan mobilnummer.",
    "status.empty.all": "Ingen har pass den månaden.",
    "status.person": "{name}: {left}",
    "status.left.report": "{n} att registrera",
    "status.left.sign": "{n} att signera",
    "status.left.done": "klar",
    "more": " …och {n} till",
    # --- what the parser could not read
    "malformed.remind": "Skriv vem som ska påminnas, t.ex. PÅMINN ALLA maj eller PÅMINN Anna maj.",
    "malformed.narrow": "Jag förstod inte '{tail}'. Skriv t.ex. PÅMINN ALLA maj BRUKARE Rolf "
                        "eller PÅMINN ALLA maj ARBETSLEDARE Lisa.",
    "malformed.status": "Okänt filter '{tail}'. Skriv STATUS maj REDO, AVSTÄNGDA, SAKNAR MOBIL eller ALLA.",
    # --- suggestions after a typo ("Menade du …?")
    "suggest.remind_all": "PÅMINN ALLA {month}",
    "suggest.status": "STATUS {month}",
    "suggest.ok": "OK",
    "suggest.stop": "STOPP",
    "suggest.start": "START",
    "suggest.help": "HJÄLP",
    # --- help and refusals
    # --- RAPPORT: the month's funnel
    "report.head": "Rapport {month}{scope}: {parts}.",
    "report.rounds.one": "{n} omgång",
    "report.rounds.other": "{n} omgångar",
    "report.round": "Omgång {n} ({time}, {by}): {parts}.",
    "report.round.auto": "automatisk",
    "report.part.reminded": "{n} påminda",
    "report.part.delivered": "{n} levererade",
    "report.part.acknowledged": "{n} bekräftade",
    "report.part.unfinished_now": "{n} ännu inte klara",
    "report.list.unfinished_now": "Ännu inte klara ({n}):",
    "report.empty": "Rapport {month}{scope}: inga påminnelser skickade den månaden.",
    "malformed.report": "Jag förstod inte '{tail}'. Skriv t.ex. RAPPORT maj eller RAPPORT maj BRUKARE Rolf.",
    "suggest.report": "RAPPORT {month}",
    "help.coordinator": "Kommandon: PÅMINN ALLA maj | PÅMINN ALLA maj BRUKARE <namn> | PÅMINN ALLA maj "
                        "ARBETSLEDARE <namn> | PÅMINN <namn eller mobil> maj | STATUS maj "
                        "[REDO|AVSTÄNGDA|SAKNAR MOBIL|ALLA] | RAPPORT maj | STOPP | START",
    "help.coordinator.narrow": ". STATUS tar också BRUKARE <namn> och/eller ARBETSLEDARE <namn>.",
    "unknown_sender": "Det här numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska få påminnelser hit.",
    "not_yours": "Det kommandot kan bara samordnare och arbetsledare använda. Du kan svara OK, STOPP, START "
                 "eller HJÄLP.",
    "unknown.coordinator": "Jag förstod inte det.{did_you_mean} Skriv HJÄLP för alla kommandon.",
    # --- the assistant's side
    "assistant.ack": "Tack! Vi har noterat att du sett påminnelsen för {month}.",
    "assistant.nothing_to_ack": "Tack! Du har ingen påminnelse att bekräfta just nu.",
    "assistant.stopped": "Påminnelserna är avstängda. Svara START om du vill få dem igen.",
    "assistant.started": "Påminnelserna är påslagna igen.",
    "assistant.help": "Svara OK när du har sett påminnelsen. STOPP stänger av påminnelserna, START slår på dem "
                      "igen. Frågor om dina pass? Kontakta din samordnare.",
    "assistant.forwarded": "Tack, ditt meddelande har skickats vidare till din samordnare.",
    "assistant.unknown": "Jag förstod inte det.",
    "assistant.did_you_mean": " Menade du {suggestion}?",
    "assistant.write_help": " Skriv HJÄLP för hjälp.",
    # --- the team chat
    "team.ack_header": "Har bekräftat påminnelsen:",
    "team.ack_line": "✓ {name} ({month})",
    "team.stopped": "{name} har stängt av sina påminnelser (STOPP).",
    "team.forwarded": "Meddelande från {name}: {body}",
    "team.all_done": "Alla har rapporterat för {month}. 🎉",
    "team.failed": "Leverans misslyckades: {name} {what}.",
    "team.failed.blocked": "har blockerat boten i Telegram; påminnelserna går som SMS",
    "team.failed.unsubscribed": "har avregistrerat sig från SMS (STOP hos operatören); påminnelserna är avstängda",
    "team.failed.invalid_number": "har ett ogiltigt mobilnummer; rätta det i verksamhetssystemet",
    "team.failed.other": "kunde inte nås ({reason})",
    "team.unconfirmed": "Osäker leverans: {channel} avbröts mitt i sändningen, så vi vet inte om påminnelsen kom "
                        "fram till dessa. Den skickas inte om av sig själv; skriv PÅMINN <namn> om den behövs.",
    "channel.sms": "SMS",
    "channel.telegram": "Telegram",
    "channel.simulator": "simulatorn",
    # --- Telegram's buttons under STATUS
    "tg.filter.ready": "Redo",
    "tg.filter.off": "Avstängda",
    "tg.filter.no_mobile": "Saknar mobil",
    "tg.filter.all": "Alla",
    "tg.remind_all": "Skicka påminnelse till alla",
    "tg.confirm": "Skicka påminnelse till alla som är redo för {month}?",
    "tg.yes": "Ja, skicka",
    "tg.cancel": "Avbryt",
    # --- automatic rounds and escalation (handlers.auto_rounds)
    "auto.actor": "Den automatiska rundan",
    "auto.summary": "Automatisk påminnelserunda enligt schemat:\n{summary}",
    "escalation.head": "Har fortfarande pass kvar för {month} efter {times} påminnelser:",
    "escalation.person": "• {name}",
    # --- linking a chat account, the team chat, one's channel (handlers.account)
    "account.link_prompt": "Hej! Tryck på knappen nedan och dela ditt mobilnummer, så kopplar jag ditt konto.",
    "account.share_button": "Dela mitt nummer",
    "account.not_linked": "Jag känner inte igen dig än. Skicka /start och dela ditt mobilnummer för att koppla "
                          "ditt konto.",
    "account.already_linked": "Du är redan kopplad som {name}. Skriv HJÄLP för kommandon.",
    "account.not_own_number": "Dela ditt eget nummer med knappen, inte någon annans.",
    "account.unknown_number": "Det numret finns inte hos Påminn. Kontakta din arbetsgivare om du ska använda "
                              "tjänsten här.",
    "account.linked": "Klart! Ditt konto är kopplat till {names}. Skriv HJÄLP för vad du kan göra här.",
    "account.teamchat_in_group": "Skicka /teamchat i den grupp som ska vara teamchatt.",
    "account.teamchat_not_coordinator": "Bara samordnare kan välja teamchatt. Koppla ditt konto med /start i en "
                                        "privat chatt först.",
    "account.teamchat_set": "Den här chatten är nu teamchatt för {org}. Här hörs påminnelser, svar och leveransfel.",
    "account.channel_choices": "Skriv /kanal telegram eller /kanal sms.",
    "account.channel.telegram": "Dina påminnelser kommer nu här i Telegram.",
    "account.channel.sms": "Dina påminnelser kommer nu som SMS.",
    # --- customer reminders (handlers.customer_reminders)
    "customer.role.contacts": "kundens kontakter",
    "customer.role.inspector": "områdets inspektörer",
    "customer.role.admin": "administratörer",
    "customer.no_recipients": "inga mottagare: {roles}",
    "customer.unreached.none": "Kundpåminnelsen ”{title}” för {customer} ({due}) nådde inte någon: {unreached}.",
    "customer.unreached.some": "Kundpåminnelsen ”{title}” för {customer} ({due}) nådde inte alla: {unreached}.",
    "customer.failed": "Kundpåminnelsen ”{title}” för {customer} ({due}) skickades inte: {why}. Den väntar tills "
                       "den ändras i en ny import.",
    "customer.not_worked_out": "påminnelsen kunde inte räknas ut",
    "customer.unknown_date": "okänt datum",
    # --- a customer's contact answering a reminder
    "contact.stop.team": "{who} vill inte få fler SMS från oss (STOPP): ta bort numret i kundregistret.",
    "contact.reply.team": "Svar från {who}: {body}",
    "contact.stopped": "Tack. {names} har fått besked om att du inte vill få fler SMS härifrån.",
    "contact.forwarded": "Tack! Ditt svar har skickats vidare till {names}.",
    "contact.no_team": "Det här numret tar bara emot påminnelser. Kontakta {names} direkt.",
    "list.and": " och ",
    # --- event notifications (handlers.event_notifications)
    "event.staff_ended": "mall {template}: personal {staff} är avslutad",
    "event.customer_ended": "mall {template}: kunden {customer} är avslutad, dess kontakter fick inget",
    "event.template_failed": "mall {template}: {why}",
    "event.no_recipients": "mall {template}: inga mottagare",
    "event.unreached": "Händelsen {event} ({type}) nådde inte alla: {unreached}.",
    # --- why an address-only recipient was not reached (handlers.outbound)
    "address.unreached": "{name} ({missing})",
    "address.missing.email": "ingen e-postadress",
    "address.missing.sms": "inget mobilnummer",
    "address.off.email": "e-post är inte påslagen",
    "address.off.sms": "SMS är inte påslaget",
    # --- expired reminders and provider outages (handlers.team)
    "team.expired.one": "{count} påminnelse för {month} kunde inte skickas: {names}{more}. Leverantören tog inte "
                        "emot dem i tid; nästa PÅMINN ALLA tar med dem igen.",
    "team.expired.other": "{count} påminnelser för {month} kunde inte skickas: {names}{more}. Leverantören tog "
                          "inte emot dem i tid; nästa PÅMINN ALLA tar med dem igen.",
    "provider.sms": "SMS-leverantören",
    "provider.telegram": "Telegram",
    "provider.email": "E-postservern",
    "team.down.one": "{provider} svarar inte sedan {at}; {count} meddelande väntar och skickas när den svarar igen.",
    "team.down.other": "{provider} svarar inte sedan {at}; {count} meddelanden väntar och skickas när den svarar "
                       "igen.",
    "team.up.one": "{provider} svarar igen (nere sedan {at}); {count} väntande meddelande skickas nu.",
    "team.up.other": "{provider} svarar igen (nere sedan {at}); {count} väntande meddelanden skickas nu.",
}
