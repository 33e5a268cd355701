namespace LlmKit.Generation;

/// <summary>
/// The processors and sampler of one sequence, built from <see cref="GenerationOptions"/> in Hugging Face's
/// order: minimum length (EOS masked), repetition penalty, frequency/presence penalties, no-repeat n-gram, temperature, top-k, top-p, min-p, then
/// sampling (greedy when temperature is 0 or top-k is 1).
/// </summary>
public sealed class LogitsPipeline
{
    private readonly ILogitsProcessor[] _processors;

    /// <summary>Creates a pipeline from explicit parts.</summary>
    public LogitsPipeline(IEnumerable<ILogitsProcessor> processors, ITokenSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(processors);
        ArgumentNullException.ThrowIfNull(sampler);
        _processors = processors.ToArray();
        Sampler = sampler;
    }

    /// <summary>The processors, in the order they run.</summary>
    public IReadOnlyList<ILogitsProcessor> Processors => _processors;

    /// <summary>The sampler.</summary>
    public ITokenSampler Sampler { get; }

    /// <summary>Builds the pipeline for fully resolved options (see <see cref="GenerationOptions"/>).</summary>
    public static LogitsPipeline Create(GenerationOptions options, int vocabularySize) => Create(options, vocabularySize, []);

    /// <summary>Builds the pipeline for fully resolved options; <paramref name="endOfSequenceIds"/> are masked until <see cref="GenerationOptions.MinNewTokens"/>.</summary>
    public static LogitsPipeline Create(GenerationOptions options, int vocabularySize, IReadOnlyList<int> endOfSequenceIds)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endOfSequenceIds);
        options.Validate();
        var processors = new List<ILogitsProcessor>();
        if (options.MinNewTokens is > 0 and var min && endOfSequenceIds.Count > 0)
        {
            processors.Add(new MinNewTokensProcessor(min, endOfSequenceIds));
        }

        if (options.RepetitionPenalty is { } rp && rp != 1f)
        {
            processors.Add(new RepetitionPenaltyProcessor(rp, vocabularySize));
        }

        float frequency = options.FrequencyPenalty ?? 0f;
        float presence = options.PresencePenalty ?? 0f;
        if (frequency != 0f || presence != 0f)
        {
            processors.Add(new FrequencyPresencePenaltyProcessor(frequency, presence, vocabularySize));
        }

        if (options.NoRepeatNGramSize is > 0 and var n)
        {
            processors.Add(new NoRepeatNGramProcessor(n));
        }

        float temperature = options.Temperature ?? 0f;
        int topK = options.TopK ?? 0;
        bool greedy = temperature == 0f || topK == 1;
        if (greedy)
        {
            return new LogitsPipeline(processors, GreedySampler.Instance);
        }

        processors.Add(new TemperatureProcessor(temperature));
        if (topK > 0)
        {
            processors.Add(new TopKProcessor(topK, vocabularySize));
        }

        if (options.TopP is { } p && p < 1f)
        {
            processors.Add(new TopPProcessor(p, vocabularySize));
        }

        if (options.MinP is { } m && m > 0f)
        {
            processors.Add(new MinPProcessor(m));
        }

        return new LogitsPipeline(processors, new MultinomialSampler(options.Seed));
    }

    /// <summary>Runs every processor on <paramref name="logits"/> (in place) and samples the next token.</summary>
    public int Next(Span<float> logits, TokenHistory history)
    {
        foreach (var processor in _processors)
        {
            processor.Process(logits, history);
        }

        return Sampler.Sample(logits);
    }
}
