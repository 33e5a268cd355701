using LlmKit.Models;
using LlmKit.Plugins.Compression.Scoring;
using LlmKit.Scoring;
using LlmKit.Testing;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression.Tests;

/// <summary>
/// A deterministic scorer over <see cref="WordTokenizer"/>: each piece's log-probability is read from a table keyed by
/// the trimmed piece text (unknown pieces get <see cref="DefaultLogProbability"/>), independent of context, so
/// which tokens are "surprising" is known exactly in advance. Records every call's lengths.
/// </summary>
internal sealed class TableScorer : ITokenScorer
{
    private readonly WordTokenizer _tokenizer;
    private readonly Func<string, float> _logProbability;

    public TableScorer(WordTokenizer tokenizer, Func<string, float> logProbability, int maxSequenceLength = 100_000)
    {
        _tokenizer = tokenizer;
        _logProbability = logProbability;
        MaxSequenceLength = maxSequenceLength;
    }

    public const float DefaultLogProbability = -3f;

    public Tokenizer Tokenizer => _tokenizer;

    public int MaxSequenceLength { get; }

    public List<(int[] Context, int[] Tokens)> Calls { get; } = [];

    public Func<IReadOnlyList<int>, IReadOnlyList<int>, float[]>? Override { get; set; }

    public Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The compressor scores token ids only.");

    public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The compressor scores token ids only.");

    public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default)
    {
        if (1 + contextTokenIds.Count + tokenIds.Count > MaxSequenceLength)
        {
            throw new ArgumentException($"{1 + contextTokenIds.Count + tokenIds.Count} tokens exceed the window of {MaxSequenceLength}.");
        }

        lock (Calls)
        {
            Calls.Add(([.. contextTokenIds], [.. tokenIds]));
        }

        if (Override is not null)
        {
            return Task.FromResult(Override(contextTokenIds, tokenIds));
        }

        var result = new float[tokenIds.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = _logProbability(_tokenizer.Decode([tokenIds[i]])!.Trim());
        }

        return Task.FromResult(result);
    }
}

/// <summary>The real stories260K model and its scorer, loaded once per test run.</summary>
internal static class Stories
{
    private static readonly Lazy<OnnxTokenScorer> LazyScorer = new(() => new OnnxTokenScorer(LoadedModels.Stories260K));

    public static OnnxGenAIModel Model => LoadedModels.Stories260K;

    public static OnnxTokenScorer Scorer => LazyScorer.Value;
}

/// <summary>Real third-party English text: the UCI Yelp review sentences, labels removed, one per line.</summary>
internal static class ReviewText
{
    private static readonly Lazy<string[]> Lines = new(() => File.ReadAllLines(SharedFixtures.File("datasets/sentiment-sentences/yelp_labelled.txt"))
        .Select(line => line.Split('\t')[0].Trim())
        .Where(line => line.Length > 0)
        .ToArray());

    public static IReadOnlyList<string> Sentences => Lines.Value;

    /// <summary>Whole review lines from <paramref name="skip"/> on, joined by spaces, cut to exactly <paramref name="tokens"/> tokens of <paramref name="tokenizer"/>.</summary>
    public static string WithTokens(Tokenizer tokenizer, int tokens, int skip = 0)
    {
        var builder = new System.Text.StringBuilder();
        for (int i = skip; tokenizer.CountTokens(builder.ToString()) < tokens + 8; i++)
        {
            builder.Append(Lines.Value[i % Lines.Value.Length]).Append(' ');
        }

        string text = builder.ToString();
        int index = tokenizer.GetIndexByTokenCount(text, tokens, out _, out int count);
        string cut = text[..index];
        return cut;
    }
}
