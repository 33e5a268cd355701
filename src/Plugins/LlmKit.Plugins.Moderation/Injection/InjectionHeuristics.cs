using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Moderation.Injection;

/// <summary>The kinds of signal <see cref="InjectionHeuristics"/> looks for.</summary>
public enum InjectionSignal
{
    /// <summary>"Ignore all previous instructions" and its translations.</summary>
    InstructionOverride,

    /// <summary>"You are now DAN", "pretend to be", "developer mode".</summary>
    RoleSwitch,

    /// <summary>Chat-template or prompt markers typed by the user: "&lt;|im_start|&gt;system", "[INST]", "### System:".</summary>
    FakeMarker,

    /// <summary>Text that closes the delimiter quoting it, or fences followed by new instructions.</summary>
    DelimiterBreak,

    /// <summary>"Reveal your system prompt".</summary>
    PromptLeak,

    /// <summary>Hidden text: ASCII smuggled in Unicode tag characters.</summary>
    Obfuscation,
}

/// <summary>One heuristic rule that matched.</summary>
/// <param name="Id">Stable rule id (safe for logs and metrics).</param>
/// <param name="Signal">The kind of signal.</param>
/// <param name="Weight">The rule's weight in [0, 1]: the probability-like strength of the signal alone.</param>
public sealed record InjectionRuleMatch(string Id, InjectionSignal Signal, double Weight);

/// <summary>The heuristics' verdict on one text.</summary>
/// <param name="Score">1 − Π(1 − weight) over the matched rules: several weak signals add up, one strong one suffices.</param>
/// <param name="Matches">The matched rules (each at most once).</param>
public sealed record InjectionHeuristicResult(double Score, IReadOnlyList<InjectionRuleMatch> Matches);

/// <summary>
/// Pattern heuristics for prompt injection in several languages (English, Spanish, French, German, Italian,
/// Portuguese, Dutch, Romanian, Polish, Turkish, Russian, Hindi, Chinese, Japanese, Korean, Arabic), run over <see cref="NormalizedText.Text"/> and every hidden
/// reading. Rules that benign text also says ("pretend to be", "System:" at a line start) weigh less than the
/// threshold, so they block only together with another signal; object-bound phrases ("ignore ... instructions")
/// weigh enough alone, while "please ignore the typo" matches nothing.
/// Quantifiers are bounded except over runs of spaces or of letters, so a match spans at most a few hundred characters
/// of ordinary text: a long text is scanned in overlapping windows (<see cref="WindowLength"/> characters,
/// <see cref="WindowOverlap"/> shared) and the time is linear in its length. A phrase stretched by a run of more than
/// <see cref="WindowOverlap"/> spaces or letters is missed.
/// Thread-safe: stateless.
/// </summary>
public static class InjectionHeuristics
{
    /// <summary>The delimiter tag the verdict prompts quote user text with; a text containing it is breaking out.</summary>
    public const string UserTextTag = "user_text";

    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Multiline;

    /// <summary>Longest text scanned in one piece; longer texts are scanned in windows of this length.</summary>
    public const int WindowLength = 4_096;

    /// <summary>Characters consecutive windows share: more than the longest match of any rule.</summary>
    public const int WindowOverlap = 1_024;

    // Shared vocabulary (English).
    private const string OverrideVerb = @"(ignore|ignoring|disregard|forget|override|bypass|neglect|abandon|discard|skip|set aside|pay no attention to|pay no heed to|don't worry about|do not worry about|never mind|nevermind|cancel|revoke|clear|erase|wipe|drop|do not follow|don't follow|dont follow|stop following)";

    // "the" alone is not a scope: "forget the rules of etiquette" is small talk, "forget your rules" is not.
    private const string Scope = @"(previous|prior|above|earlier|preceding|foregoing|all|any|every|your|these|those|system|original|initial|existing|developer|safety|hidden)";
    // "instructions" also misspelt ("insructions", "instrucions") as typed in a hurry or to dodge filters.
    private const string RuleNoun = @"(instructions?|ins?t?r?uc?t?i?ons?|prompts?|rules?|directives?|directions|guidelines?|guidance|commands?|guardrails?|polic(y|ies)|programming|(alignment |safety )?training|conditioning|context|system message|safeguards|content filters?)";

    private static readonly Rule[] Rules =
    [
        // --- instruction override ---
        new("override.en", InjectionSignal.InstructionOverride, 0.9, $@"\b{OverrideVerb}\b[^.\n]{{0,40}}\b{Scope}\b[^.\n]{{0,30}}\b{RuleNoun}\b"),
        new("override.en.above", InjectionSignal.InstructionOverride, 0.8, @"\b(ignore|disregard|forget)\s+(all\s+|everything\s+)?(of\s+)?(the\s+|what's\s+|what is\s+|what was\s+)?(said\s+|written\s+|stated\s+)?(above|before (this|that|now)|so far|up to (now|here|this point)|until now|prior to this)\s*([.,;:!]|and\b|then\b|$)"),
        new("override.en.all-previous", InjectionSignal.InstructionOverride, 0.6, @"\b(ignore|disregard|forget)\s+(all|everything)\s+(of\s+)?(the\s+)?(previous|prior|above|preceding)\b"),
        new("override.en.weak", InjectionSignal.InstructionOverride, 0.45, $@"\b(ignore|disregard)\s+(the|these|those)\s+{RuleNoun}\b"),
        new("override.en.forget-all", InjectionSignal.InstructionOverride, 0.8, @"\bforget\s+(about\s+)?(everything|all)\s+(you('ve|\s+have|\s+were|\s+had)?\s+(been\s+)?(told|taught|learned|instructed|given)|(that\s+)?(was|is|were)\s+(said|written|stated)\s+(above|before|earlier)|above|so far)"),
        // "Forget all those dietary restrictions" is restaurant talk: limits alone weigh under the threshold.
        new("override.en.limits", InjectionSignal.InstructionOverride, 0.45, @"\b(ignore|disregard|forget|bypass|override|remove|disable|turn off)\s+(all\s+)?(of\s+)?(your\s+|any\s+|all\s+|the\s+)?((usual|normal|standard|current|default|built-in)\s+)?(restrictions|constraints|limits|limitations|filters|safety\s+(rules|features|measures))\b"),
        new("override.en.void", InjectionSignal.InstructionOverride, 0.9, @"\b(previous|prior|above|earlier|original|system|old|your)\s+(instructions?|rules|prompts?|directives|guidelines)\b[^.\n]{0,20}\b(are|is|were|have been)\b[^.\n]{0,15}\b(void|cancel+ed|revoked|lifted|no longer (valid|apply|applies|in effect|relevant)|obsolete|outdated|invalid|superseded|replaced|overridden|null|suspended|disabled)"),
        new("override.en.given", InjectionSignal.InstructionOverride, 0.9, @"\b(ignore|disregard|forget|set aside|bypass|override|drop)\s+(all\s+)?(of\s+)?(the\s+)?(instructions|rules|guidelines|directions|directives|prompt|domain|topic|task|role|persona|purpose)\s+(that\s+)?you\s+(were|have been|'ve been|got|received)\s*(given|told|programmed with|trained with)?"),
        new("override.en.chat-rules", InjectionSignal.InstructionOverride, 0.8, @"\b(ignore|disregard|forget|break)\s+(the\s+)?(rules|guidelines|instructions)\s+(of|for|in)\s+(this|the|your)\s+(chat|conversation|system|assistant|bot|game|session|platform)\b"),
        new("override.en.follow-mine", InjectionSignal.InstructionOverride, 0.6, @"\bfollow\s+(mine|my\s+(instructions|rules|orders|commands))\s+(instead|from now on|now)\b"),
        new("override.en.opposite", InjectionSignal.InstructionOverride, 0.8, @"\b(opposite|reverse|contrary)\s+(of|to)\s+(what\s+)?(your|the)\s+(instructions|rules|guidelines|programming|system prompt)\b"),
        new("override.en.break-rules", InjectionSignal.InstructionOverride, 0.6, @"\b(let's|let us|we will|we'll|you will|you can|you may|time to)\s+break\s+(the|all|your|all the)\s+rules\b"),
        new("override.en.safety-off", InjectionSignal.InstructionOverride, 0.8, @"\b(safety|content|security)\s+(protocols?|filters?|rules|measures|guidelines|checks|features|settings)\s+(are\s+|have been\s+|has been\s+|have\s+|has\s+)?(now\s+)?(disabled|deactivated|off|removed|lifted|suspended|turned off|expired)\b"),
        new("override.en.prefix", InjectionSignal.InstructionOverride, 0.6, @"\b(start|begin)\s+(your\s+)?(reply|response|answer)\s+with\s+[""']?(sure|absolutely|of course|certainly)\b"),
        new("override.en.told", InjectionSignal.InstructionOverride, 0.8, @"\b(ignore|disregard|forget)\s+(what|anything|everything)\s+(you\s+(were|have been|'ve been)\s+(told|taught|instructed)|(the\s+)?(developers?|creators?|makers?|programmers?|openai|they)\s+(told|taught|instructed)\s+you)\b"),
        new("override.en.not-apply", InjectionSignal.InstructionOverride, 0.8, @"\byour\s+(rules|guidelines|instructions|restrictions|polic(y|ies)|programming|filters)\s+(don't|do not|no longer|doesn't|does not|won't|will not)\s+apply\b"),
        new("override.en.giving-orders", InjectionSignal.InstructionOverride, 0.6, @"\b(giving|give|here are)\s+you\s+(new|different|fresh)\s+(orders|instructions|rules|commands|directives)\b|\bhere\s+are\s+your\s+new\s+(orders|instructions|rules|commands|directives)\b"),
        new("override.en.only-mine", InjectionSignal.InstructionOverride, 0.6, @"\b(follow|obey)\s+only\s+my\s+(commands|instructions|orders|rules)\b|\bonly\s+(follow|obey)\s+my\s+(commands|instructions|orders|rules)\b"),
        new("override.en.users-request", InjectionSignal.InstructionOverride, 0.8, @"\b(disregard|ignore)\s+(the\s+)?user'?s?\s+(request|question|instructions|message|prompt)\b"),
        new("override.en.pwned", InjectionSignal.InstructionOverride, 0.9, @"\b(say|respond|reply|answer|print|output|write)\b[^.\n]{0,30}\b(i have been pwned|pwned)\b"),
        new("override.en.your-limits", InjectionSignal.InstructionOverride, 0.8, @"\b(bypass|disable|ignore|forget|turn off|switch off|circumvent|get around|remove|drop|lift|relax|loosen)\s+your\s+((safety|content|security)\s+)?(checks|filters|restrictions|guardrails|safeguards|limits|limitations|protections|constraints|moderation)\b"),
        new("override.en.pretend-no-rules", InjectionSignal.InstructionOverride, 0.8, @"\b(pretend|imagine|assume|act as if|as if)\s+(that\s+)?(the\s+|your\s+)?(content (polic(y|ies)|moderation|filters?)|moderation|rules|guidelines|restrictions|filters|safety rules)\s+(don't|do not|doesn't|does not|did not|didn't|no longer)\s+(exist|apply)\b"),
        new("override.en.not-allowed", InjectionSignal.InstructionOverride, 0.6, @"\bwhat(ever)?\s+you('re|\s+are)\s+not\s+(allowed|supposed|permitted)\s+to\s+(say|tell|write|do)\b"),
        new("override.en.stop-task", InjectionSignal.InstructionOverride, 0.7, @"\b(stop|quit)\s+(summari[sz]ing|translating|what you('re|\s+are)\s+doing)\b[^.\n]{0,30}\binstead\b"),
        new("override.multi.no-rules", InjectionSignal.InstructionOverride, 0.7, @"\bno\s+tienes\s+(ninguna\s+|más\s+)?(reglas|restricciones|límites|limites|filtros)|\b(tu\s+n'as|vous\s+n'avez)\s+(plus\s+)?(aucune?|pas\s+de)\s+(restrictions?|règles?|regles?|limites?|filtres?)|\b(du\s+hast|sie\s+haben)\s+(keine|keinerlei)\s+(regeln|einschränkungen|grenzen|filter)|\bdeine\s+regeln\s+gelten\s+nicht|\bnon\s+hai\s+(più\s+)?(nessuna\s+)?(regole|restrizioni|limiti)|\b(você|voce)\s+não\s+tem\s+(mais\s+)?(nenhuma\s+)?(regras|restrições|restricoes|limites)"),
        new("override.en.rules-changed", InjectionSignal.InstructionOverride, 0.8, @"\b(rules|instructions|guidelines|polic(y|ies))\s+(have|has)\s+(changed|been\s+(updated|changed|lifted|removed))\b[^\n]{0,40}\byou\s+(may|can|are\s+(now\s+)?allowed\s+to)\b"),
        new("override.en.now-allowed", InjectionSignal.InstructionOverride, 0.6, @"\b(you|the assistant|the ai|the model|the bot)\s+(is|are)\s+now\s+(allowed|permitted|authori[sz]ed|free)\s+to\b"),
        new("override.en.not-follow", InjectionSignal.InstructionOverride, 0.8, @"\b(stop following|don't follow|do not follow|not follow|not to follow|ignore|disregard)\s+(the|your)\s+(system\s+(message|prompt)|content polic(y|ies)|developer\s+(message|instructions))\b"),
        new("role.en.forget-you-are", InjectionSignal.RoleSwitch, 0.45, @"\bforget\s+(that\s+)?you('re|\s+are)\s+(an?\s+)?\w+"),
        new("role.en.trailing-now", InjectionSignal.RoleSwitch, 0.35, @"\byou('re|\s+are)\s+(an?\s+)?[\w -]{1,30}\s+now\b"),
        new("override.en.your-task", InjectionSignal.InstructionOverride, 0.7, @"\b(forget|ignore|disregard|drop|abandon)\s+your\s+(current\s+|original\s+|assigned\s+)?(task|assignment|role|job|purpose|persona|domain|mission)\b"),
        new("override.en.topic", InjectionSignal.InstructionOverride, 0.45, @"\b(ignore|forget|disregard|drop)\s+(the|your)\s+(\w+\s+)?(topic|domain|subject|focus)\b"),
        new("override.en.whatever-i-ask", InjectionSignal.InstructionOverride, 0.6, @"\b(do|say|answer)\s+(whatever|anything|everything)\s+I\s+(ask|say|tell you|want)\b"),
        new("override.en.obey-all", InjectionSignal.InstructionOverride, 0.7, @"\b(must|will|shall)\s+(now\s+)?(obey|follow|comply with)\s+(every|all|any)\s+(instructions?|commands?|orders?)\s+(in this|I give|from me|below)\b"),
        new("role.en.always-complies", InjectionSignal.RoleSwitch, 0.7, @"\b(always|will always)\s+(complies|comply|obeys|obey|says yes|agrees)\b[^.\n]{0,30}\b(harmful|dangerous|illegal|unethical|any request|every request)\b"),
        new("role.en.ai-breaks-rules", InjectionSignal.RoleSwitch, 0.7, @"\b(ai|assistant|bot|chatbot|model)\b[^.\n]{0,30}\b(break|breaks|ignore|ignores|bypass|bypasses)\s+(every|all|any|its|their|your)\s+(own\s+)?(rules?|guidelines|restrictions|polic(y|ies))\b"),
        new("override.en.note-to-ai", InjectionSignal.InstructionOverride, 0.7, @"\bnote\s+to\s+(the\s+|any\s+|all\s+)?(ai|assistant|llm|language model|chatbot|model)s?\b|<!--[^>]{0,200}\b(assistant|ai|system|model)\s*[:,]"),
        new("override.en.exfiltrate", InjectionSignal.InstructionOverride, 0.6, @"\b(ai|assistant|chatbot|model)s?\b[^.\n]{0,30}\b(forward|send|email|upload|post)\b[^.\n]{0,40}\bto\b"),
        new("override.en.sudo", InjectionSignal.InstructionOverride, 0.45, @"^\s*sudo\s+(give|tell|show|reveal|ignore|disable|enable|make|let)\b"),
        new("override.en.unrestricted-access", InjectionSignal.InstructionOverride, 0.45, @"\bunrestricted\s+(access|answers?|output|responses?)\b"),
        new("override.en.granted", InjectionSignal.InstructionOverride, 0.45, @"\b(granted|given)\s+you\s+(permission|authori[sz]ation|clearance)\s+to\b"),
        new("override.en.decode-follow", InjectionSignal.InstructionOverride, 0.5, @"\b(decode|decrypt|translate|reverse|unscramble)\b[^.\n]{0,30}\b(and|then)\s+(follow|do|execute|obey|run)\s+(it|them|that|the instructions?)\b"),
        new("override.en.forget-write", InjectionSignal.InstructionOverride, 0.6, @"\bforget\s+everything\b[,;]?\s+(and\s+)?(just\s+|only\s+)?(write|say|print|output|reply)\b"),
        new("role.en.stop-being", InjectionSignal.RoleSwitch, 0.6, @"\bstop\s+being\s+(an?\s+)?(ai|assistant|chatbot|helpful|ethical|safe|polite)\b"),
        new("role.en.dan", InjectionSignal.RoleSwitch, 0.8, @"\b(if you were|as|you are( now)?|act as|pretend to be|become|du bist( jetzt)?|eres( ahora)?|tu es( maintenant)?)\s+(?-i:DAN)\b"),
        new("override.de.verb-last", InjectionSignal.InstructionOverride, 0.8, @"\b(deine|die|alle)\s+((vorherigen|bisherigen|obigen)\s+)?(regeln|anweisungen|instruktionen|vorgaben|richtlinien)\b[^.\n]{0,20}\b(ignorieren|vergessen|missachten|übergehen)"),
        new("role.cjk.no-rules", InjectionSignal.RoleSwitch, 0.7, @"(不再受|不受)[^。\n]{0,6}(规则|規則|限制|约束|約束)|(制限|ルール|規則)(の|が)?(ない|無い|なし)[^。\n]{0,4}(AI|ＡＩ|アシスタント)"),
        new("override.en.authorize", InjectionSignal.InstructionOverride, 0.45, @"\bas\s+your\s+(creator|developer|admin|administrator|owner|operator|programmer)\b|\bI\s+authori[sz]e\s+you\s+to\b"),
        new("override.en.treat-as-system", InjectionSignal.InstructionOverride, 0.8, @"\btreat\s+(my|these|the following)\s+(words|messages?|input|text)\s+as\s+(system|admin|developer|root)[\s-]*(level\s+)?(commands?|instructions?|prompts?|messages?)\b"),
        new("override.en.set-aside", InjectionSignal.InstructionOverride, 0.8, @"\bset\s+(your|the|all)\s+(\w+\s+)?(guidelines|rules|instructions|restrictions|principles)\s+aside\b"),
        new("override.en.rules-removed", InjectionSignal.InstructionOverride, 0.7, @"\b(your|the\s+(topic|content|safety))\s+((usual|normal|standard|current|default)\s+)?(rules|restrictions|guidelines|filters|limits)\s+(were|are|have been|has been)\s+(removed|lifted|disabled|dropped|turned off)\b"),
        new("role.en.answers-everything", InjectionSignal.RoleSwitch, 0.6, @"\b(play|act as|pretend to be|roleplay as|role-play as)\s+(a\s+|an\s+)?(character|persona|ai|bot)\b[^.\n]{0,40}\b(answers?|does|says|tells)\s+(everything|anything)\b"),
        new("role.en.mode-name", InjectionSignal.RoleSwitch, 0.6, @"\b(no[\s-]limits?|no[\s-]rules|unlocked|unchained)\s*['""]?\s+mode\b"),
        new("role.en.no-morals", InjectionSignal.RoleSwitch, 0.5, @"\b(without|with no|free of|no)\s+(any\s+)?(moral|ethical|remorse|ethics|morals|conscience)\b|\bsin\s+(ética|etica|moral)\b|\bohne\s+(ethik|moral)\b|\bsans\s+(éthique|ethique|morale)\b"),
        new("override.en.need-not-follow", InjectionSignal.InstructionOverride, 0.7, @"\b(does not|doesn't|do not|don't|no longer)\s+(have to|need to|must)\s+(follow|obey|abide by)\s+(any|the|its|your)?\s*(rules|guidelines|restrictions|polic(y|ies))\b|\bbroken\s+(out|free)\s+of\b"),
        new("role.en.break-character", InjectionSignal.RoleSwitch, 0.35, @"\bbreak(ing|s)?\s+character\b"),
        new("role.en.unfiltered-output", InjectionSignal.RoleSwitch, 0.6, @"\b(unfiltered|uncensored|unrestricted|jailbroken)\s+(model|ai|assistant|chatbot|version|responses?|answers?|replies|output|content)\b|\bno matter how\s+(immoral|unethical|illegal|dangerous|harmful|offensive)\b"),
        new("role.es.forget-you-are", InjectionSignal.RoleSwitch, 0.45, @"\bolvida\s+que\s+eres\b|\bvergiss,?\s+dass\s+du\b|\boublie\s+que\s+tu\s+es\b"),
        new("leak.en.given-instructions", InjectionSignal.PromptLeak, 0.7, @"\b(output|print|show|reveal|repeat|share|translate)\s+(me\s+)?the\s+(instructions|rules|prompt|guidelines)\s+(that\s+)?you\s+(were|have been)\s+given\b"),
        new("role.en.mode-success", InjectionSignal.RoleSwitch, 0.8, @"['""](jailbreak|jailbroken|dan mode|developer mode)[^'""]{0,20}(successful|succeeded|enabled|activated|on)['""]"),
        new("role.en.confirm-by-saying", InjectionSignal.RoleSwitch, 0.35, @"\bconfirm\b[^.\n]{0,40}\bby\s+(saying|replying|answering|writing)\b"),
        new("role.en.quoted-mode", InjectionSignal.RoleSwitch, 0.6, @"\b(enter|activate|enable)\s+['""](developer|dan|debug|god|jailbreak)\s+mode['""]"),
        new("role.en.two-responses", InjectionSignal.RoleSwitch, 0.7, @"\btwo\s+(responses|answers|ways)\b[^.\n]{0,80}\b(developer mode|unfiltered|uncensored|no filters|without\s+(any\s+)?(filters|restrictions|limits)|no restrictions|dan)\b"),
        new("role.en.hates-ethics", InjectionSignal.RoleSwitch, 0.5, @"\b(hates?|refuses?\s+to\s+be)\s+(being\s+)?(ethical|moral|safe|polite)\b"),
        new("role.en.named-bot", InjectionSignal.RoleSwitch, 0.45, @"\b(simulate|emulate|act as|pretend to be|role-?play as|become)\s+(an?\s+)?(ai|chatbot|bot|assistant|model)\s+(named|called)\b"),
        new("override.en.not-subject", InjectionSignal.InstructionOverride, 0.8, @"\byou\s+(are\s+)?(not|no longer)\s+(subject\s+to|bound\s+by|restricted\s+by|governed\s+by)\s+(the\s+|any\s+|your\s+)?(content polic(y|ies)|rules|guidelines|restrictions|filters|polic(y|ies))\b"),
        new("override.en.never-given", InjectionSignal.InstructionOverride, 0.8, @"\b(act|behave|respond|answer)\s+as\s+if\s+you\s+(were|had)\s+never\s+(been\s+)?(given|received|had)\s+(any\s+)?(instructions|rules|guidelines|prompt)\b"),
        new("leak.en.i-was-given", InjectionSignal.PromptLeak, 0.7, @"\b(the\s+)?(instructions|rules|prompt|guidelines)\s+I\s+(was|have been)\s+given\b"),
        new("override.en.ignore-system", InjectionSignal.InstructionOverride, 0.6, @"\b(ignore|disregard)\s+the\s+system\b(?!\s+(error|message|requirements?|update|noise|alert|warning|log|time|clock|font))"),
        new("override.en.do-what-i-say", InjectionSignal.InstructionOverride, 0.45, @"\bdo\s+what\s+I\s+(say|tell you|ask)\s+instead\b"),
        new("leak.en.really-programmed", InjectionSignal.PromptLeak, 0.6, @"\bwhat\s+you('re|\s+are)\s+(really|actually|secretly)\s+(programmed|instructed|told|designed)\s+to\b"),
        new("role.en.no-refusals", InjectionSignal.RoleSwitch, 0.7, @"\bno\s+refusals?\b|\b(refuse|decline|reject)\s+nothing\b|\bnever\s+refuse\b"),
        new("leak.en.containing", InjectionSignal.PromptLeak, 0.6, @"\b(containing|with|including)\s+your\s+(full\s+)?(instructions|system prompt|prompt|rules)\b"),
        new("override.en.break-your-rules", InjectionSignal.InstructionOverride, 0.7, @"\bbreak\s+(one\s+of\s+)?(your|its)\s+(own\s+)?(rules|guidelines|restrictions|polic(y|ies))\b"),
        new("override.en.never-follow", InjectionSignal.InstructionOverride, 0.8, @"\bnever\s+follow\s+(your|the)\s+(original\s+|previous\s+|initial\s+)?(instructions|rules|guidelines|system prompt)\b"),
        new("override.en.forever", InjectionSignal.InstructionOverride, 0.6, @"\b(repeat|say|write)\s+(the\s+word\s+)?['""]?\w+['""]?\s+(forever|indefinitely|endlessly|infinitely)\b"),
        new("leak.en.hidden-parts", InjectionSignal.PromptLeak, 0.6, @"\b(including|with)\s+(the\s+)?(hidden|secret|invisible)\s+(parts?|sections?|text|instructions)\b"),
        new("leak.en.been-told", InjectionSignal.PromptLeak, 0.45, @"\beverything\s+you('ve|\s+have)\s+been\s+told\b"),
        new("override.en.from-admin", InjectionSignal.InstructionOverride, 0.45, @"\b(from|by)\s+your\s+(administrator|admin|developer|creator|operator|owner)\b"),
        new("override.en.disable-filtering", InjectionSignal.InstructionOverride, 0.45, @"\b(disable|turn off|remove|bypass)\s+(the\s+)?(topic|content|safety)\s+(filtering|filters?|restrictions?|checks?)\b"),
        new("override.en.exempt", InjectionSignal.InstructionOverride, 0.8, @"\bexempt\s+from\s+(your|the|all|any)\s+((usual|normal|standard)\s+)?(polic(y|ies)|rules|guidelines|restrictions|filters)\b"),
        new("override.en.override-code", InjectionSignal.InstructionOverride, 0.6, @"\boverride\s+code\b"),
        new("role.en.unlock", InjectionSignal.RoleSwitch, 0.45, @"\bunlock\s+(all\s+)?(your\s+)?(capabilities|features|restrictions|modes?|potential)\b"),
        new("leak.en.configured-with", InjectionSignal.PromptLeak, 0.7, @"\b(list|show|tell me|reveal|print)\b[^.\n]{0,30}\b(restrictions?|rules|instructions|guidelines)\s+you\s+(were|have been)\s+(configured|programmed|given|set up)\b"),
        new("leak.en.tools", InjectionSignal.PromptLeak, 0.45, @"\b(tools|functions|plugins)\b[^.\n?]{0,30}\byou\s+(were|have been)\s+given\b|\b(print|show|dump|output)\s+(their|the|your)\s+(full\s+)?(definitions|schemas?|specs?)\b"),
        new("override.en.layer-removed", InjectionSignal.InstructionOverride, 0.8, @"\b(safety|content|moderation|filter(ing)?)\s+(layer|module|system|filter)s?\s+(has|have|was|were)\s+(been\s+)?(patched out|removed|disabled|turned off|deleted)\b"),
        new("override.en.that", InjectionSignal.InstructionOverride, 0.45, @"\b(ignore|disregard|forget)\s+(that|this)\s*[.!]\s+(now\s+)?(tell|write|say|give|print|show|explain|answer|list|describe)\b"),
        new("override.en.new", InjectionSignal.InstructionOverride, 0.6, @"\b(new|updated|real|actual|true|secret|override)\s+(instructions?|task|rules?|directives?|system prompt)(\s+(from|by)\s+(the\s+)?(admin|administrator|developer|system|owner|operator|openai))?\s*(:|are\b|is\b|follow)"),
        // Topic and task switches: "Forget about all the assignments. Your next job is to ...".
        new("override.en.tasks", InjectionSignal.InstructionOverride, 0.6, @"\b(forget|ignore|disregard|drop|abandon)\s+(about\s+)?(all\s+)?(of\s+)?((your|the|these|those)\s+)?((previous|prior|earlier|preceding|current|other)\s+)?(tasks|assignments)\b"),
        new("override.en.next-task", InjectionSignal.InstructionOverride, 0.6, @"\b(your|the)\s+(next|new|real|actual)\s+(task|job|mission|assignment)\s+(is|will be)\s+to\b"),
        new("override.en.instead", InjectionSignal.InstructionOverride, 0.3, @"\binstead\b[^.\n]{0,20}\b(say|print|write|output|respond with|reply with|only answer)\b"),
        new("override.en.obey", InjectionSignal.InstructionOverride, 0.35, @"\byou\s+(must|will|shall)\s+(now\s+)?(obey|comply)\b"),
        new("override.es", InjectionSignal.InstructionOverride, 0.9, @"\b(ignora|ignore|ignorar|ignoren|olvida|olvide|olvidar|omite|omitir|descarta|descartar|no sigas)\b[^.\n]{0,40}(instrucciones|reglas|indicaciones|órdenes|ordenes|directrices|restricciones)"),
        new("override.fr", InjectionSignal.InstructionOverride, 0.9, @"\b(ignore[rz]?|oublie[rz]?|néglige[rz]?|neglige[rz]?|ne suis pas|ne suis plus|ne suivez plus|ne respecte plus|ne respectez plus|ne tiens pas compte)\b[^.\n]{0,40}(instructions|règles|regles|consignes|directives|restrictions)"),
        new("override.de", InjectionSignal.InstructionOverride, 0.9, @"\b(ignoriere|ignorier|ignorieren|vergiss|vergessen|missachte|missachten|übergehe)\b[^.\n]{0,40}(anweisungen|regeln|instruktionen|vorgaben|befehle|richtlinien|einschränkungen|aufgaben|aufträge)"),
        new("override.it", InjectionSignal.InstructionOverride, 0.9, @"\b(ignora|ignorare|dimentica|dimenticare|trascura|non seguire)\b[^.\n]{0,40}(istruzioni|regole|direttive|indicazioni|restrizioni)"),
        new("override.pt", InjectionSignal.InstructionOverride, 0.9, @"\b(ignore|ignora|ignorar|esqueça|esqueca|esquecer|desconsidere|desconsiderar)\b[^.\n]{0,40}(instruções|instrucoes|regras|diretrizes|orientações|orientacoes|restrições)"),
        new("override.nl", InjectionSignal.InstructionOverride, 0.9, @"\b(negeer|vergeet|negeren)\b[^.\n]{0,40}(instructies|regels|richtlijnen|opdrachten)"),
        // "Forget everything before" without naming instructions, per language.
        new("override.de.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(vergiss|vergessen sie|ignoriere|ignorieren sie)\s+(bitte\s+)?alles\b[^.\n]{0,30}\b(davor|vorher|zuvor|bisher|oben|vorangegangene|bisherige|obige)"),
        new("override.es.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(olvida|olvide|olvidad|ignora|ignore)\s+todo\b[^.\n]{0,30}\b(anterior|anteriores|antes|dicho|arriba)\b"),
        new("override.fr.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(oublie|oubliez|ignore|ignorez)\s+tout\b[^.\n]{0,30}(précède|precede|précédent|precedent|avant|dit|ci-dessus)"),
        new("override.it.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(dimentica|dimenticate|ignora|ignorate)\s+tutto\b[^.\n]{0,30}\b(prima|precedente|precede|sopra|detto)\b"),
        new("override.pt.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(esqueça|esqueca|esqueçam|ignore|ignora)\s+tudo\b[^.\n]{0,30}\b(anterior|antes|acima|dito)\b"),
        new("override.nl.all-before", InjectionSignal.InstructionOverride, 0.8, @"\b(vergeet|negeer)\s+alles\b[^.\n]{0,30}\b(hiervoor|daarvoor|eerder|hierboven|vorige)\b"),
        new("override.de.new", InjectionSignal.InstructionOverride, 0.6, @"\b(neue|folgende)\s+(anweisungen|aufgabe|aufgaben|befehle|instruktionen)\s*(:|folgen\b)|\b(nun|jetzt)\s+folgen\s+neue\s+(anweisungen|aufgaben|befehle)"),
        new("override.ro", InjectionSignal.InstructionOverride, 0.9, @"\b(ignorați|ignorati|ignoră|ignora|uită|uitați|uitati)\b[^.\n]{0,40}(instrucțiunile|instructiunile|instrucțiuni|instructiuni|regulile)"),
        new("override.pl", InjectionSignal.InstructionOverride, 0.9, @"\b(zignoruj|ignoruj|zapomnij)\b[^.\n]{0,40}(instrukcje|polecenia|zasady|reguły|reguly)"),
        new("override.tr", InjectionSignal.InstructionOverride, 0.9, @"(talimatları|talimatlari|kuralları|kurallari|yönergeleri|yonergeleri)[^.\n]{0,20}(yok say|görmezden gel|gormezden gel|unut)|\b(yok say|görmezden gel|unut)\b[^.\n]{0,30}(talimat|kural)"),
        new("override.hi", InjectionSignal.InstructionOverride, 0.9, @"(निर्देशों|निर्देश|नियमों|नियम)[^।\n]{0,30}(अनदेखा|भूल|नज़रअंदाज़|नजरअंदाज)"),
        new("override.ru", InjectionSignal.InstructionOverride, 0.9, @"(игнорируй|игнорировать|проигнорируй|забудь|забыть|не обращай внимания на|не следуй)[^.\n]{0,40}(инструкци|правил|указани|ограничени)"),
        new("override.zh", InjectionSignal.InstructionOverride, 0.9, @"((忽略|无视|忘记|忽視|無視|忘記|不要遵守|不要理会)[^。\n]{0,20}(指令|指示|规则|規則|提示|说明|說明|设定|設定|限制))|((指令|指示|规则|規則|提示词|设定|設定)[^。\n]{0,10}(忽略|无视|忘记|忽視|無視|忘記))"),
        new("override.ja", InjectionSignal.InstructionOverride, 0.9, @"(指示|命令|ルール|規則|制約|設定)[^。\n]{0,12}(無視|忘れ)"),
        new("override.ko", InjectionSignal.InstructionOverride, 0.9, @"(지시|지침|규칙|명령|제한)[^.\n]{0,12}(무시|잊어|따르지\s*(마|말))|(무시|잊어)[^.\n]{0,12}(지시|지침|규칙|명령|제한)"),
        new("override.ar", InjectionSignal.InstructionOverride, 0.9, @"(تجاهل|انس|انسى)[^.\n]{0,40}(التعليمات|القواعد|الأوامر|الاوامر|التوجيهات)"),

        // --- role switch ---
        new("role.en.now", InjectionSignal.RoleSwitch, 0.45, @"\byou('re|\s+are)\s+(now|no longer|from now on)\b|\bfrom now on,?\s+you\s+(are|will|must|shall)\b"),
        new("role.en.no-longer-ai", InjectionSignal.RoleSwitch, 0.8, @"\byou('re|\s+are)\s+no\s+longer\s+(an?\s+)?(ai|assistant|chatbot|language model|bound|restricted)\b"),
        new("role.en.never-refuse", InjectionSignal.RoleSwitch, 0.6, @"\b(ai|assistant|chatbot|model|bot|you)\b[^.\n]{0,25}\b(never|won't|will not|cannot|can't|doesn't|does not)\s+(refuses?|declines?|says? no|rejects?)\b"),
        new("role.en.have-no-limits", InjectionSignal.RoleSwitch, 0.7, @"\byou\s+(have|got)\s+no\s+(restrictions|rules|limits|limitations|filters|guidelines|content polic(y|ies)|boundaries|prior\s+context|previous\s+instructions|instructions)\b"),
        new("role.en.unrestricted-output", InjectionSignal.RoleSwitch, 0.7, @"\b(enable|activate|turn on|switch on)\s+(unrestricted|unfiltered|uncensored|raw)\s+(output|mode|responses?|answers?)\b"),
        new("role.en.unrestricted", InjectionSignal.RoleSwitch, 0.9, @"\b(act|behave|respond|answer|pose|roleplay|role-play|talk|speak|reply|write)\s+(to me\s+)?(as|like)\s+(if\s+you\s+(were|are)\s+)?(an?\s+)?(\w+\s+)?(unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|dan|amoral|unaligned)\b"),
        new("role.en.persona", InjectionSignal.RoleSwitch, 0.9, @"\b((pretend|imagine|suppose)\s+(that\s+)?(you\s+are|you're|to\s+be)|you\s+are\s+(now\s+)?)\s*(an?\s+)?(evil|unrestricted|unfiltered|uncensored|jailbroken|rogue|amoral|unaligned|malicious|unethical)\b"),
        new("role.en.jailbreak-terms", InjectionSignal.RoleSwitch, 0.6, @"\b(dan mode|do anything now|jailbroken|jailbreak mode|unrestricted mode|unfiltered mode|evil mode|stan|aim mode)\b"),
        // Modes a phone or an app also has ("developer mode on Android"): alone they do not block.
        new("role.en.mode-terms", InjectionSignal.RoleSwitch, 0.35, @"\b(developer mode|god mode|sudo mode|debug mode|maintenance mode|jailbreak)\b"),
        new("role.en.no-limits", InjectionSignal.RoleSwitch, 0.5, @"\b(without|with no|free of|free from|freed from|freed of|no longer (bound|restricted) by)\s+(any\s+|the\s+|all\s+(of\s+)?(its|your|their|the)\s+|its\s+|your\s+)?(typical\s+)?(rules|restrictions|limits|limitations|filters|guidelines|censorship|confines|boundaries|polic(y|ies)|content polic(y|ies)|(ethical|moral) (guidelines|constraints|limits|boundaries|restrictions))\b|\bno longer (bound|restricted|limited) by\b"),
        new("role.en.hypothetical", InjectionSignal.RoleSwitch, 0.6, @"\bif\s+you\s+(had|have|were)\s+(no|without|free of|not bound by)\s+(any\s+)?(rules|restrictions|limits|filters|guidelines|ethics|morals|programming|censorship|polic(y|ies))\b"),
        new("role.en.alter-ego", InjectionSignal.RoleSwitch, 0.8, @"\b(unrestricted|unfiltered|uncensored|jailbroken|evil|amoral)\s+(version|mode|persona|alter ego|twin|counterpart)\b"),
        new("role.en.grandma", InjectionSignal.RoleSwitch, 0.6, @"\b(act|pretend|play|roleplay|role-play)\s+(as|to be)\s+(my\s+)?(late|dead|deceased)\s+(grandma|grandmother|grandfather|grandpa)\b"),
        new("role.en.claimed-authority", InjectionSignal.RoleSwitch, 0.45, @"\b(this is|i am|i'm)\s+(your|the)\s+(developer|creator|admin|administrator|programmer|owner|operator)\b|\b(the\s+)?user\s+is\s+(an?\s+)?(admin|administrator|developer|root|superuser)\b|\b(openai|anthropic|google|microsoft)\s+(staff|team|employees?|engineers?|developers?)\b|\bI('m|\s+am)\s+(an?\s+)?(security\s+)?(researcher|tester|red[\s-]teamer)\b"),
        new("role.en.pretend", InjectionSignal.RoleSwitch, 0.35, @"\b(pretend\s+(to be|you are|you're|that you)|roleplay as|role-play as|impersonate|stay in character)\b"),
        new("role.en.simulate", InjectionSignal.RoleSwitch, 0.7, @"\b(simulate|emulate|become)\b[^.\n]{0,30}\b(ai|assistant|model|chatbot)\s+(without|with no|that has no|that ignores)\b"),
        new("role.es", InjectionSignal.RoleSwitch, 0.45, @"\b(ahora eres|a partir de ahora eres|actúa como|actua como|finge ser|finge que eres)\b"),
        new("role.fr", InjectionSignal.RoleSwitch, 0.45, @"\b(tu es (maintenant|désormais|desormais)|vous êtes (maintenant|désormais)|fais semblant d'être|agis comme|à partir de maintenant,? tu)\b"),
        new("role.de", InjectionSignal.RoleSwitch, 0.45, @"\b(du bist (jetzt|nun|ab sofort)|tu so,? als ob|spiele die rolle|ab jetzt bist du|stell dir vor,? du bist)\b"),
        new("role.de.evil", InjectionSignal.RoleSwitch, 0.8, @"\b(böse|boese|bösartige|unzensierte|uneingeschränkte)\s+(ki|assistent|assistentin|chatbot)\b"),
        new("role.it", InjectionSignal.RoleSwitch, 0.45, @"\b(ora sei|adesso sei|fingi di essere|d'ora in poi sei)\b"),
        new("role.pt", InjectionSignal.RoleSwitch, 0.45, @"\b(agora você é|agora voce e|finja ser|a partir de agora você)\b"),
        new("role.ru", InjectionSignal.RoleSwitch, 0.45, @"(теперь ты|отныне ты|притворись|представь, что ты)"),
        new("role.zh", InjectionSignal.RoleSwitch, 0.45, @"(你现在是|你現在是|从现在开始你|從現在開始你|扮演一个没有)"),
        new("role.no-limits.multi", InjectionSignal.RoleSwitch, 0.5, @"(sin (restricciones|reglas|límites|filtros)|sans (restrictions|règles|limites|filtres)|ohne (einschränkungen|regeln|filter)|senza (restrizioni|regole|limiti)|sem (restrições|regras|limites)|без (ограничений|правил|фильтров)|没有任何限制|沒有任何限制|不受任何限制)"),

        // --- fake markers ---
        new("marker.chatml", InjectionSignal.FakeMarker, 0.9, @"<\|\s*(im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id|end_header_id|begin_of_text|end|tool)\s*\|>"),
        new("marker.llama", InjectionSignal.FakeMarker, 0.9, @"\[/?INST\]|<</?SYS>>|</s>\s*<s>"),
        new("marker.heading", InjectionSignal.FakeMarker, 0.7, @"^\s*#{1,4}\s*(system|assistant|instruction|instructions|developer|admin)\b\s*(prompt|message)?\s*:?"),
        new("marker.role-line", InjectionSignal.FakeMarker, 0.45, @"^\s*\**\s*(system|assistant|developer|admin)\s*(message|prompt)?\s*\**\s*(:|>)"),
        // A typed transcript ("User: ... Assistant: ...") puts words in the assistant's mouth.
        new("marker.transcript", InjectionSignal.FakeMarker, 0.6, @"^\s*(user|human)\s*:[^\n]*\n\s*(assistant|ai|bot|gpt)\s*:"),
        // "[system]" alone also names a tag in a log file: strong only when an instruction or a markdown link follows.
        new("marker.bracket", InjectionSignal.FakeMarker, 0.45, @"[\[({]\s*(system|assistant|admin|developer|sys)(\s+(message|note|override|prompt|instruction))?\s*[\])}]"),
        new("marker.bracket.instruction", InjectionSignal.FakeMarker, 0.7, @"[\[({]\s*(system|assistant|admin|developer|sys)(\s+(message|note|override|prompt|instruction))?\s*[\])}]\s*(\(#\w*\)\s*)?[:\-]?\s*(\w+\s+){0,4}(you|your|ignore|disregard|forget|new|from now|reveal|the assistant|answer|respond)\b|\[\s*(system|assistant)\s*\]\s*\(#"),
        new("marker.xml", InjectionSignal.FakeMarker, 0.8, @"</?\s*(system|instructions?|sys|admin|developer|system_prompt|assistant)\s*>"),
        new("marker.override-line", InjectionSignal.FakeMarker, 0.7, @"^\s*(system\s+override|admin(istrator)?\s+(note|override|message|command)|developer\s+(note|override|message)|(task|instruction|prompt|rule)\s+override|override(\s+mode)?)\s*:"),
        new("marker.boundary", InjectionSignal.FakeMarker, 0.7, @"\b(end of (the\s+)?(user\s+)?(input|prompt|conversation|instructions|context|document)|begin(ning of)?\s+(the\s+)?(system|new|real)\s+(prompt|instructions?|message))\b"),

        // --- delimiter breaking ---
        new("delimiter.own-tag", InjectionSignal.DelimiterBreak, 0.9, $@"</?\s*{UserTextTag}\s*>"),
        new("delimiter.end-marker", InjectionSignal.DelimiterBreak, 0.6, @"(={3,}|-{3,}|#{3,}|\*{3,})[ \t]*(end|ende|fin|stop)[ \t]*[.!]?[ \t]*(={3,}|-{3,}|#{3,}|\*{3,})?[ \t]*$"),
        new("delimiter.fence", InjectionSignal.DelimiterBreak, 0.6, @"(""""""|'''|```|-{5,}|={5,}|\*{5,})\s*\n?\s*(system|assistant|developer|new instructions?|instructions?\s*:)"),

        // --- prompt leak ---
        new("leak.en", InjectionSignal.PromptLeak, 0.8, @"\b(reveal|show|print|repeat|output|display|tell me|give me|what (is|are|was|were)|write out|leak|dump)\b[^.\n]{0,30}\b(your|the)\s+(system\s+prompt|initial\s+(prompt|instructions)|hidden\s+(prompt|instructions)|instructions\s+above|original\s+instructions|prompt\s+above|secret\s+instructions|developer\s+(message|instructions))"),
        new("leak.en.your", InjectionSignal.PromptLeak, 0.7, @"\b(output|print|reveal|show|repeat|reply with|dump|give me|tell me|share|recite|quote|summari[sz]e|list|(what's|what is|what are)\s+(written|said)\s+in)\b[^.\n]{0,30}\byour\s+(full\s+|entire\s+|whole\s+|initial\s+|original\s+|exact\s+)?(instructions|prompt|context window|context|system message|directives|rules|guidelines)\b"),
        new("leak.en.setup", InjectionSignal.PromptLeak, 0.7, @"\b(repeat|print|output|show|reveal|quote|paste|copy|recite|share)\b[^.\n]{0,40}\b(your|the)\s+(setup|initial|first|opening|hidden|system)\s+(message|prompt|instructions|preamble|text)\b|\b(paste|print|show|reveal|share)\s+(me\s+)?your\s+(hidden\s+)?preamble\b"),
        new("leak.en.secret", InjectionSignal.PromptLeak, 0.7, @"\b(tell me|give me|reveal|show|print|share)\s+(me\s+)?your\s+(secret|api|private)\s+(key|token|password)s?\b"),
        new("leak.en.given", InjectionSignal.PromptLeak, 0.7, @"\bwhat\s+(instructions|rules|guidelines|directives|prompt)\s+(were|have)\s+you\s+(been\s+)?(given|told|provided)\b"),
        new("leak.en.before-mine", InjectionSignal.PromptLeak, 0.7, @"\b(anything|everything|text|words|content)\s+(before|above|prior to)\s+my\s+(first\s+)?(message|question|input|prompt)\b|\bfirst\s+\d+\s+(words|lines|characters|tokens)\s+of\s+(this|the|our)\s+(conversation|chat|prompt|context)\b"),
        new("leak.en.first-instruction", InjectionSignal.PromptLeak, 0.7, @"\b(what|tell me|repeat|quote)\b[^.\n?]{0,30}\byour\s+(very\s+)?(first|initial|original|earliest)\s+(instruction|prompt|message|rule|directive)s?\b"),
        new("leak.en.hidden-text", InjectionSignal.PromptLeak, 0.7, @"\b(hidden|secret|invisible)\s+(text|message|instructions|prompt)\b[^.\n]{0,40}\b(before|above|prior to)\s+(this|the|our)\s+(conversation|chat|message)\b"),
        new("leak.en.rules-you-follow", InjectionSignal.PromptLeak, 0.7, @"\b(reveal|show|list|print|tell me|recite)\s+(me\s+)?(the|all)\s+(rules|instructions|guidelines)\s+(that\s+)?you\s+(follow|obey|have|were given)\b"),
        new("leak.en.secret-word", InjectionSignal.PromptLeak, 0.6, @"\b(your\s+(password|passphrase|secret\s+(word|code|key|password))|the\s+secret\s+(password|word|code|phrase))\b|\byour\s+secret\s*[?.!]*\s*$"),
        new("leak.en.begin-with", InjectionSignal.PromptLeak, 0.8, @"\b(begin|start|end)\s+(your\s+)?(answer|reply|response)\s+with\s+your\s+(full\s+|entire\s+|complete\s+)?(system\s+prompt|instructions|prompt|rules)\b"),
        new("leak.en.developer-wrote", InjectionSignal.PromptLeak, 0.7, @"\bwhat\s+(did|does|do)\s+(the|your)\s+(developers?|creators?|admins?|operators?|owners?)\s+(write|say|put)\s+in\s+your\s+(prompt|instructions|system)\b"),
        new("leak.en.share-prompt", InjectionSignal.PromptLeak, 0.6, @"\b(share|show|reveal|give)\s+(me\s+)?the\s+(system\s+|hidden\s+|full\s+)?prompt\b"),
        new("leak.en.append", InjectionSignal.PromptLeak, 0.7, @"\b(append|include|add|attach)\b[^.\n]{0,20}\byour\s+(system\s+)?(instructions|prompt|rules|guidelines)\b"),
        new("leak.en.above", InjectionSignal.PromptLeak, 0.7, @"\b(print|repeat|output|quote|copy|write out|reproduce|show)\b[^.\n]{0,20}\b(the\s+)?(text|words|lines|everything|content|message)\s+(above|before)\b"),
        new("leak.en.told", InjectionSignal.PromptLeak, 0.7, @"\bwhat\s+(were|have)\s+you\s+(been\s+)?(told|instructed|programmed|asked)\b[^.\n?]{0,30}\bbefore\b"),
        new("leak.en.config", InjectionSignal.PromptLeak, 0.7, @"\b(prints?|shows?|reveals?|dumps?|outputs?|displays?|tell me|give me)(\s+out)?\s+(me\s+)?(your|the|its)\s+((hidden|internal|secret)\s+(settings|configuration|config|instructions|rules)|configuration|config)\b|\b(reveal|leak|dump|explains?|describes?)\s+(its|your|the)\s+(hidden|internal|secret)\s+\w+"),
        new("leak.de", InjectionSignal.PromptLeak, 0.7, @"\b(zeig|zeige|gib|wiederhole|nenne|verrate)\b[^.\n]{0,20}\b(deinen|deine|den|die)\s+(prompt|systemprompt|anweisungen|instruktionen|vorgaben)\b|\bwiederhole\s+alles\s+(obige|oben|davor|vorherige)"),
        new("leak.en.your-prompt", InjectionSignal.PromptLeak, 0.6, @"\byour\s+(system\s+prompt|sys\s*prompt|initial\s+prompt|(hidden|secret|internal)\s+(prompt|instructions|configuration|config|settings|rules|directives|guidelines))\b|\b(my|your)\s+system\s+prompt\s+(is|says|reads)\b"),
        new("leak.en.initialized", InjectionSignal.PromptLeak, 0.7, @"\b(reveal|show|print|repeat|tell me|output|share)\b[^.\n]{0,40}\byou\s+were\s+(initiali[sz]ed|configured|programmed|primed|given|set up|started)\s+with\b"),
        new("leak.romance", InjectionSignal.PromptLeak, 0.7, @"\b(montre|affiche|révèle|revele|répète|repete|donne)[-\s]?moi\s+(tes|vos)\s+(instructions|consignes|règles|regles)\b|\b(mostrami|dimmi|rivelami|ripeti(mi)?)\s+(le\s+)?(tue|sue)\s+(istruzioni|regole)\b|\b(repite|muéstrame|muestrame|dime|revela|revélame)\s+(las\s+|tus\s+)(instrucciones|reglas|indicaciones)\b|\b(mostre|mostra|repita|revele)[-\s]?(me\s+)?(as\s+)?(suas|tuas)\s+(instruções|instrucoes|regras)\b"),
        new("leak.multi", InjectionSignal.PromptLeak, 0.8, @"(system_prompt|prompt del sistema|prompt système|invite système|systemprompt|system-prompt|системный промпт|系统提示|系統提示|システムプロンプト)"),
    ];

    /// <summary>The ids and weights of all rules, for documentation and tests.</summary>
    public static IReadOnlyList<InjectionRuleMatch> AllRules { get; } = Array.ConvertAll(Rules, r => new InjectionRuleMatch(r.Id, r.Signal, r.Weight));

    /// <summary>Runs every rule over the normalised text and its hidden readings.</summary>
    /// <param name="text">The normalised text.</param>
    /// <returns>The combined score and the rules that matched.</returns>
    public static InjectionHeuristicResult Analyze(NormalizedText text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matched = new bool[Rules.Length];
        foreach (string reading in (IEnumerable<string>)[text.Text, .. text.HiddenReadings])
        {
            foreach (string window in Windows(reading))
            {
                for (int i = 0; i < Rules.Length; i++)
                {
                    matched[i] = matched[i] || Rules[i].IsMatch(window);
                }
            }
        }

        var matches = new List<InjectionRuleMatch>();
        for (int i = 0; i < Rules.Length; i++)
        {
            if (matched[i])
            {
                matches.Add(new InjectionRuleMatch(Rules[i].Id, Rules[i].Signal, Rules[i].Weight));
            }
        }

        if (text.SmuggledCharacterCount >= 4)
        {
            // Invisible tag characters spelling text are never part of an honest chat message (flag emoji use a few, without spelling words).
            matches.Add(new InjectionRuleMatch("obfuscation.tag-characters", InjectionSignal.Obfuscation, text.SmuggledCharacterCount >= 12 ? 0.6 : 0.3));
        }

        double keep = 1;
        foreach (var match in matches)
        {
            keep *= 1 - match.Weight;
        }

        return new InjectionHeuristicResult(1 - keep, matches);
    }

    /// <summary>
    /// The text itself when it is short, else overlapping windows of it. A window that starts or ends inside the text
    /// gets a letter added there, so a line anchor (<c>^</c>, <c>$</c>) cannot match at an edge that is not a line
    /// edge; a match cut by such an edge lies whole inside the neighbouring window.
    /// </summary>
    private static IEnumerable<string> Windows(string text)
    {
        if (text.Length <= WindowLength)
        {
            yield return text;
            yield break;
        }

        for (int start = 0; ; start += WindowLength - WindowOverlap)
        {
            int end = Math.Min(text.Length, start + WindowLength);
            yield return string.Concat(start > 0 ? "x" : string.Empty, text.AsSpan(start, end - start), end < text.Length ? "x" : string.Empty);
            if (end == text.Length)
            {
                yield break;
            }
        }
    }

    private sealed class Rule(string id, InjectionSignal signal, double weight, string pattern)
    {
        public string Id { get; } = id;

        public InjectionSignal Signal { get; } = signal;

        public double Weight { get; } = weight;

        private readonly Regex _compiled = new(pattern, Options | RegexOptions.Compiled);

        public bool IsMatch(string text) => _compiled.IsMatch(text);
    }
}
