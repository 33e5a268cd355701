namespace LlmKit.Plugins.Moderation;

/// <summary>Which domain paths <see cref="DomainModerator"/> uses.</summary>
public enum DomainCheckMode
{
    /// <summary>
    /// Use what is available: the embedding classifier when there are at least two in-domain and two off-domain
    /// examples, and the constrained verdict when an <see cref="LlmKit.Scoring.ITokenScorer"/> is given (both: their mean).
    /// With neither, the generated verdict through an <see cref="Microsoft.Extensions.AI.IChatClient"/>.
    /// </summary>
    Auto,

    /// <summary>Only the embedding classifier (needs examples of both kinds).</summary>
    Embedding,

    /// <summary>Only the model verdict: constrained through a scorer, else generated through a chat client.</summary>
    Verdict,

    /// <summary>The mean of the embedding classifier's and the verdict's off-domain probabilities.</summary>
    Both,

    /// <summary>No domain check: injection detection only.</summary>
    None,
}

/// <summary>What to do when a generated verdict is neither "True" nor "False".</summary>
public enum UncertainVerdictPolicy
{
    /// <summary>Block the text (fail closed). The default.</summary>
    Block,

    /// <summary>Ignore the verdict: other domain paths decide, or the text is allowed when there are none.</summary>
    Allow,
}

/// <summary>
/// Settings of <see cref="DomainModerator"/>. Bind from configuration (section "Moderation" by convention) or set in code;
/// <see cref="Validate"/> runs when a moderator is created and names the offending setting and its allowed range.
/// </summary>
public sealed class ModerationOptions
{
    /// <summary>The assistant's domain in a few words, e.g. "restaurants, food and dining". Required unless <see cref="DomainMode"/> is <see cref="DomainCheckMode.None"/>.</summary>
    public string Domain { get; set; } = string.Empty;

    /// <summary>Texts that are on the domain (train the embedding classifier, calibrate the verdict and the perplexity heuristics).</summary>
    public List<string> InDomainExamples { get; set; } = [];

    /// <summary>Texts that are off the domain (train the embedding classifier and calibrate the verdict).</summary>
    public List<string> OffDomainExamples { get; set; } = [];

    /// <summary>Optional prompt-injection examples; with at least four, an injection classifier is trained against the benign examples.</summary>
    public List<string> InjectionExamples { get; set; } = [];

    /// <summary>Optional benign texts (greetings, small talk) that must pass; used by the injection classifier and the perplexity calibration.</summary>
    public List<string> BenignExamples { get; set; } = [];

    /// <summary>Which domain paths to use. Default <see cref="DomainCheckMode.Auto"/>.</summary>
    public DomainCheckMode DomainMode { get; set; } = DomainCheckMode.Auto;

    /// <summary>Block when the off-domain probability reaches this value. Default 0.5; allowed (0, 1].</summary>
    public double OffDomainThreshold { get; set; } = 0.5;

    /// <summary>Block when an injection score (heuristic rule weight or classifier probability) reaches this value. Default 0.5; allowed (0, 1].</summary>
    public double InjectionThreshold { get; set; } = 0.5;

    /// <summary>Whether to run injection detection. Default true.</summary>
    public bool DetectInjection { get; set; } = true;

    /// <summary>What to do with a generated verdict that is neither True nor False. Default <see cref="UncertainVerdictPolicy.Block"/>.</summary>
    public UncertainVerdictPolicy UncertainVerdictPolicy { get; set; } = UncertainVerdictPolicy.Block;

    /// <summary>
    /// Longest text (in UTF-16 characters) that is inspected; a longer one is blocked unread (category
    /// <see cref="ModerationCategory.Injection"/>, path <see cref="ModerationPath.InputValidation"/>).
    /// The heuristics scan all of an accepted text. Default 1,048,576; allowed 1 to 16,777,216.
    /// </summary>
    public int MaxTextLength { get; set; } = 1 << 20;

    /// <summary>
    /// How much of a text the model and embedding paths read: the first this-many characters (then as many tokens
    /// as fit the scorer's context). Bounds the cost of scoring a huge text. Default 2,000; allowed 16 to 1,000,000.
    /// </summary>
    public int MaxScoredCharacters { get; set; } = 2_000;

    /// <summary>
    /// Examples per class shown in the constrained/generated verdict prompt. Default 0 (with stories260K, 2 per class
    /// did not improve the verdict); raise it for a model that benefits from few-shot prompts. The examples sit in the
    /// prompt's fixed part before the text, which LlmKit's ONNX models keep in their KV cache between checks, so they
    /// cost little after the first check. Allowed 0 to 16.
    /// </summary>
    public int VerdictExamplesPerClass { get; set; }

    /// <summary>
    /// Fit a one-feature logistic calibration of the scorer's True/False log-odds on the examples (at most
    /// <see cref="MaxCalibrationExamples"/> per class), so a model biased towards one answer still gives usable
    /// probabilities. Needs four examples per class. Default true.
    /// </summary>
    public bool CalibrateVerdict { get; set; } = true;

    /// <summary>Most examples per class used to calibrate the verdict and the perplexity heuristics. Default 64; allowed 4 to 10,000.</summary>
    public int MaxCalibrationExamples { get; set; } = 64;

    /// <summary>L2 penalty of the logistic-regression classifiers; 0 chooses it by 5-fold cross-validation on the examples. Default 0; allowed 0 to 100.</summary>
    public double ClassifierL2Penalty { get; set; }

    /// <summary>Perplexity heuristics (need an <see cref="LlmKit.Scoring.ITokenScorer"/>).</summary>
    public PerplexityHeuristicOptions Perplexity { get; set; } = new();

    /// <summary>Text that replaces a blocked user request or off-domain answer. "{domain}" is replaced by <see cref="Domain"/>.</summary>
    public string RefusalMessage { get; set; } = "Sorry, I can only help with {domain}.";

    /// <summary>Text that replaces a function result withheld as a likely injection.</summary>
    public string WithheldResultMessage { get; set; } = "[Tool output withheld: it looked like an attempt to change the assistant's instructions.]";

    /// <summary>Check the model's answer for the domain (filters and chat middleware). Default true.</summary>
    public bool ModerateOutput { get; set; } = true;

    /// <summary>Check function (tool) arguments and results for injection in the function filter and chat middleware. Default true.</summary>
    public bool ModerateFunctions { get; set; } = true;

    /// <summary>The refusal with the domain filled in.</summary>
    public string FormatRefusal() => RefusalMessage.Replace("{domain}", string.IsNullOrWhiteSpace(Domain) ? "this topic" : Domain, StringComparison.Ordinal);

    /// <summary>Throws when a setting is outside its allowed range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A numeric setting is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">A required text is missing or a list holds a null or empty entry.</exception>
    public void Validate()
    {
        RequireProbability(OffDomainThreshold, nameof(OffDomainThreshold));
        RequireProbability(InjectionThreshold, nameof(InjectionThreshold));
        RequireRange(MaxTextLength, 1, 1 << 24, nameof(MaxTextLength));
        RequireRange(MaxScoredCharacters, 16, 1_000_000, nameof(MaxScoredCharacters));
        RequireRange(VerdictExamplesPerClass, 0, 16, nameof(VerdictExamplesPerClass));
        RequireRange(MaxCalibrationExamples, 4, 10_000, nameof(MaxCalibrationExamples));
        if (!(ClassifierL2Penalty >= 0 && ClassifierL2Penalty <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(ClassifierL2Penalty), ClassifierL2Penalty, "ClassifierL2Penalty must be between 0 (choose by cross-validation) and 100.");
        }

        if (!Enum.IsDefined(DomainMode))
        {
            throw new ArgumentOutOfRangeException(nameof(DomainMode), DomainMode, "DomainMode must be Auto, Embedding, Verdict, Both or None.");
        }

        if (!Enum.IsDefined(UncertainVerdictPolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(UncertainVerdictPolicy), UncertainVerdictPolicy, "UncertainVerdictPolicy must be Block or Allow.");
        }

        if (DomainMode != DomainCheckMode.None && string.IsNullOrWhiteSpace(Domain))
        {
            throw new ArgumentException("Domain must describe the assistant's domain (e.g. \"restaurants, food and dining\") unless DomainMode is None.", nameof(Domain));
        }

        RequireEntries(InDomainExamples, nameof(InDomainExamples));
        RequireEntries(OffDomainExamples, nameof(OffDomainExamples));
        RequireEntries(InjectionExamples, nameof(InjectionExamples));
        RequireEntries(BenignExamples, nameof(BenignExamples));
        ArgumentNullException.ThrowIfNull(RefusalMessage, nameof(RefusalMessage));
        ArgumentNullException.ThrowIfNull(WithheldResultMessage, nameof(WithheldResultMessage));
        ArgumentNullException.ThrowIfNull(Perplexity, nameof(Perplexity));
        Perplexity.Validate();
    }

    internal static void RequireProbability(double value, string name)
    {
        if (!(value > 0 && value <= 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a probability in (0, 1].");
        }
    }

    internal static void RequireRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min:N0} and {max:N0}.");
        }
    }

    private static void RequireEntries(List<string>? list, string name)
    {
        if (list is null)
        {
            throw new ArgumentNullException(name, $"{name} must be a list (it may be empty).");
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(list[i]))
            {
                throw new ArgumentException($"{name}[{i}] is null or blank; every example must contain text.", name);
            }
        }
    }
}

/// <summary>
/// NeMo-Guardrails-style jailbreak heuristics over a scoring model's perplexity. A threshold left null is
/// calibrated when the moderator warms up: the largest value seen on benign text (the in-domain and benign
/// examples plus built-in greetings such as "Hello") times <see cref="CalibrationMargin"/>.
/// </summary>
public sealed class PerplexityHeuristicOptions
{
    /// <summary>Whether to run the heuristics when a scorer is available. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Block when characters ÷ perplexity of the whole (scored part of the) text reaches this value: long, fluent
    /// texts such as "DAN" prompts. Null: calibrate on benign text. Allowed &gt; 0.
    /// </summary>
    public double? LengthPerPerplexityThreshold { get; set; }

    /// <summary>
    /// Block when the perplexity of the first or last <see cref="WindowWords"/> words reaches this value: gibberish
    /// adversarial prefixes or suffixes. Null: calibrate on benign text. Allowed &gt; 1.
    /// </summary>
    public double? PrefixSuffixPerplexityThreshold { get; set; }

    /// <summary>Words in the prefix and suffix windows. Default 20; allowed 2 to 200.</summary>
    public int WindowWords { get; set; } = 20;

    /// <summary>
    /// Texts with fewer words skip the prefix/suffix check (their windows would overlap, and a short greeting's
    /// perplexity says nothing about an attack: this is why "Hello" passes). Default 20; allowed 2 to 1,000.
    /// </summary>
    public int MinWords { get; set; } = 20;

    /// <summary>Texts shorter than this many characters skip the length-per-perplexity check. Default 200; allowed 0 to 100,000.</summary>
    public int MinCharacters { get; set; } = 200;

    /// <summary>Calibrated threshold = largest benign value × this margin. Default 1.25; allowed 1 to 100.</summary>
    public double CalibrationMargin { get; set; } = 1.25;

    internal void Validate()
    {
        if (LengthPerPerplexityThreshold is { } l && !(l > 0 && double.IsFinite(l)))
        {
            throw new ArgumentOutOfRangeException(nameof(LengthPerPerplexityThreshold), l, "LengthPerPerplexityThreshold must be a finite number > 0 (or null to calibrate).");
        }

        if (PrefixSuffixPerplexityThreshold is { } p && !(p > 1 && double.IsFinite(p)))
        {
            throw new ArgumentOutOfRangeException(nameof(PrefixSuffixPerplexityThreshold), p, "PrefixSuffixPerplexityThreshold must be a finite number > 1 (or null to calibrate).");
        }

        ModerationOptions.RequireRange(WindowWords, 2, 200, nameof(WindowWords));
        ModerationOptions.RequireRange(MinWords, 2, 1_000, nameof(MinWords));
        ModerationOptions.RequireRange(MinCharacters, 0, 100_000, nameof(MinCharacters));
        if (!(CalibrationMargin >= 1 && CalibrationMargin <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(CalibrationMargin), CalibrationMargin, "CalibrationMargin must be between 1 and 100.");
        }
    }
}
