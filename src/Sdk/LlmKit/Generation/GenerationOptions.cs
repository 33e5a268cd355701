namespace LlmKit.Generation;

/// <summary>
/// Settings of one generation. Unset values (null) fall back to the model folder's <c>search</c> defaults.
/// Validate with <see cref="Validate"/>; every error names the setting and its allowed range.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Most NEW tokens to generate (the prompt does not count). Must be &gt; 0. Default: up to the model's max length.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>
    /// Fewest NEW tokens before an end-of-sequence token may be chosen, &gt;= 0 (EOS logits are masked until then). Default:
    /// the folder's <c>search.min_length</c> (which counts the prompt, as in onnxruntime-genai) minus the prompt length.
    /// SK's <c>min_tokens</c> and the M.E.AI <c>AdditionalProperties["min_tokens"]</c> set it.
    /// </summary>
    public int? MinNewTokens { get; init; }

    /// <summary>Sampling temperature, &gt;= 0; 0 decodes greedily. Default: 0 unless the folder sets do_sample.</summary>
    public float? Temperature { get; init; }

    /// <summary>Keep only the k most likely tokens, &gt;= 0 (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary>Keep the smallest set of tokens whose probability sums to at least p, in (0, 1] (1 = off).</summary>
    public float? TopP { get; init; }

    /// <summary>Drop tokens less likely than min_p times the most likely one, in [0, 1] (0 = off).</summary>
    public float? MinP { get; init; }

    /// <summary>Hugging Face repetition penalty, &gt; 0 (1 = off): logits of tokens already in the sequence are divided (if positive) or multiplied (if negative) by it.</summary>
    public float? RepetitionPenalty { get; init; }

    /// <summary>OpenAI frequency penalty in [-2, 2]: subtracted once per earlier occurrence of a token in the generated text.</summary>
    public float? FrequencyPenalty { get; init; }

    /// <summary>OpenAI presence penalty in [-2, 2]: subtracted once from every token already in the generated text.</summary>
    public float? PresencePenalty { get; init; }

    /// <summary>Forbid repeating any n-gram of this size, &gt;= 0 (0 = off).</summary>
    public int? NoRepeatNGramSize { get; init; }

    /// <summary>
    /// Beams of a beam search, in [1, 64] (1 = no beam search). Beam search is deterministic (temperature and sampling
    /// settings do not apply) and follows onnxruntime-genai's: default the folder's <c>search.num_beams</c>.
    /// </summary>
    public int? NumBeams { get; init; }

    /// <summary>Sequences a beam search returns, best first, in [1, <see cref="NumBeams"/>]; default the folder's <c>search.num_return_sequences</c>.</summary>
    public int? NumReturnSequences { get; init; }

    /// <summary>Beam search: a finished sequence scores sum(log p) / length^length_penalty (length counts the prompt); default the folder's (1).</summary>
    public float? LengthPenalty { get; init; }

    /// <summary>Beam search: stop as soon as <see cref="NumBeams"/> sequences have finished; default the folder's (true).</summary>
    public bool? EarlyStopping { get; init; }

    /// <summary>Seed of the sampler; the same seed, prompt and settings give the same tokens.</summary>
    public long? Seed { get; init; }

    /// <summary>
    /// Speculative decoding by prompt lookup (see <see cref="PromptLookupOptions"/>); null (the default) turns it off.
    /// The output is unchanged: greedy decoding gives the same tokens, sampling the same distribution. Ignored by beam
    /// search and on models with a sliding window.
    /// </summary>
    public PromptLookupOptions? PromptLookup { get; init; }

    /// <summary>
    /// Speculative decoding with a draft model that shares the target's vocabulary (see <see cref="DraftModelOptions"/>);
    /// null (the default) turns it off. The output is unchanged like with <see cref="PromptLookup"/>, which it cannot be
    /// combined with. Ignored by beam search and on target models with a sliding window.
    /// </summary>
    public DraftModelOptions? DraftModel { get; init; }

    /// <summary>
    /// The LoRA adapter this request runs with: the name given to <see cref="Models.OnnxGenAIModel.LoadAdapter"/>; null (the
    /// default) runs the base model. M.E.AI's <c>ChatOptions.AdditionalProperties["adapter"]</c> and SK's <c>adapter</c>
    /// setting set it. KV caches are reused only between requests with the same adapter.
    /// </summary>
    public string? Adapter { get; init; }

    /// <summary>
    /// Constrained decoding: only tokens that keep the output inside this language may be chosen, end-of-sequence is
    /// allowed exactly when the output is complete (and forced when nothing else may follow), and when the remaining
    /// <see cref="MaxNewTokens"/> budget only just fits the shortest completion the generator steers to it, so a
    /// generation whose budget allows ends complete. Null (the default) turns it off. Works with sampling, penalties and
    /// <see cref="PromptLookup"/>; beam search and the onnxruntime-genai engine refuse it (NotSupportedException).
    /// </summary>
    public Constraints.OutputConstraint? Constraint { get; init; }

    /// <summary>Texts that end generation when produced; they are matched across token boundaries and never emitted.</summary>
    public IReadOnlyList<string>? StopSequences { get; init; }

    /// <summary>
    /// These settings with every unset sampling and search value taken from a folder's <c>search</c> section (temperature,
    /// top-k and top-p only when it samples; greedy otherwise), as every engine resolves them.
    /// </summary>
    /// <param name="search">The folder's <c>search</c> section.</param>
    public GenerationOptions WithDefaultsFrom(Models.GenAISearchSection search)
    {
        ArgumentNullException.ThrowIfNull(search);
        return this with
        {
            Temperature = Temperature ?? (search.DoSample ? search.Temperature : 0f),
            TopK = TopK ?? (search.DoSample ? search.TopK : 0),
            TopP = TopP ?? (search.DoSample ? search.TopP : 1f),
            RepetitionPenalty = RepetitionPenalty ?? search.RepetitionPenalty,
            NoRepeatNGramSize = NoRepeatNGramSize ?? search.NoRepeatNGramSize,
            NumBeams = NumBeams ?? search.NumBeams,
            NumReturnSequences = NumReturnSequences ?? Math.Min(search.NumReturnSequences, NumBeams ?? search.NumBeams),
            LengthPenalty = LengthPenalty ?? search.LengthPenalty,
            EarlyStopping = EarlyStopping ?? search.EarlyStopping,
        };
    }

    /// <summary>Validates the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range; the message names the setting.</exception>
    public void Validate()
    {
        if (MaxNewTokens is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "max new tokens must be > 0.");
        }

        if (MinNewTokens is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MinNewTokens), MinNewTokens, "min new tokens must be >= 0.");
        }

        if (Temperature is { } t && !(t >= 0 && float.IsFinite(t)))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), t, "temperature must be a finite number >= 0.");
        }

        if (TopK is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be >= 0 (0 turns it off).");
        }

        if (TopP is { } p && !(p > 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), p, "top_p must be in (0, 1].");
        }

        if (MinP is { } m && !(m >= 0 && m <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MinP), m, "min_p must be in [0, 1].");
        }

        if (RepetitionPenalty is { } r && !(r > 0 && float.IsFinite(r)))
        {
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), r, "repetition_penalty must be a finite number > 0.");
        }

        if (FrequencyPenalty is { } f && !(f >= -2 && f <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(FrequencyPenalty), f, "frequency_penalty must be in [-2, 2].");
        }

        if (PresencePenalty is { } pp && !(pp >= -2 && pp <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(PresencePenalty), pp, "presence_penalty must be in [-2, 2].");
        }

        if (NumBeams is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(NumBeams), NumBeams, "num_beams must be in [1, 64].");
        }

        if (NumReturnSequences is { } n && (n < 1 || n > (NumBeams ?? n)))
        {
            throw new ArgumentOutOfRangeException(nameof(NumReturnSequences), n, "num_return_sequences must be in [1, num_beams].");
        }

        if (LengthPenalty is { } lp && !float.IsFinite(lp))
        {
            throw new ArgumentOutOfRangeException(nameof(LengthPenalty), lp, "length_penalty must be a finite number.");
        }

        if (NoRepeatNGramSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(NoRepeatNGramSize), NoRepeatNGramSize, "no_repeat_ngram_size must be >= 0.");
        }

        PromptLookup?.Validate();
        DraftModel?.Validate();
        if (PromptLookup is not null && DraftModel is not null)
        {
            throw new ArgumentException("PromptLookup and DraftModel are both set: choose one way of drafting.", nameof(DraftModel));
        }

        if (Adapter is not null && string.IsNullOrWhiteSpace(Adapter))
        {
            throw new ArgumentOutOfRangeException(nameof(Adapter), Adapter, "adapter must be null (the base model) or the non-empty name of a loaded adapter.");
        }

        if (StopSequences is not null)
        {
            foreach (var s in StopSequences)
            {
                if (string.IsNullOrEmpty(s))
                {
                    throw new ArgumentException("stop sequences must not be null or empty.", nameof(StopSequences));
                }
            }
        }
    }
}
