using System.Collections.Concurrent;
using System.Text;
using LlmKit.Scoring;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Moderation.Tests.Support;

/// <summary>
/// A hand-made <see cref="ITokenScorer"/> for tests that run before (or without) the real runtime: it reads the
/// quoted user text of a verdict prompt and gives " True" a probability that grows with restaurant words and
/// shrinks with phone words; for plain scoring, letters get log-probability −1 and other characters −6, so gibberish
/// has a high perplexity. One token per character (a WordPiece vocabulary of single characters).
/// </summary>
internal sealed class KeywordTokenScorer : ITokenScorer
{
    private static readonly string[] FoodWords = ["food", "restaurant", "menu", "waiter", "dinner", "pizza", "table", "delicious", "service", "burger", "eat", "dish"];
    private static readonly string[] PhoneWords = ["phone", "battery", "charger", "headset", "screen", "bluetooth", "case", "call", "signal", "device"];

    public KeywordTokenScorer(int maxSequenceLength = 512, double trueBias = 0)
    {
        MaxSequenceLength = maxSequenceLength;
        TrueBias = trueBias;
        var vocab = new StringBuilder("[UNK]\n[CLS]\n[SEP]\n[PAD]\n[MASK]\n");
        for (char c = '!'; c <= '~'; c++)
        {
            vocab.Append(c).Append('\n').Append("##").Append(c).Append('\n');
        }

        Tokenizer = WordPieceTokenizer.Create(new MemoryStream(Encoding.UTF8.GetBytes(vocab.ToString())));
    }

    /// <summary>Added to the True log-odds: a biased model that the verdict calibration must correct.</summary>
    public double TrueBias { get; }

    public ConcurrentQueue<string> Prompts { get; } = new();

    public Tokenizer Tokenizer { get; }

    public int MaxSequenceLength { get; }

    public Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Prompts.Enqueue(prompt);
        var ids = new int[continuation.Length];
        var logs = new float[continuation.Length];
        for (int i = 0; i < continuation.Length; i++)
        {
            logs[i] = char.IsLetter(continuation[i]) || continuation[i] == ' ' ? -1f : -6f;
        }

        return Task.FromResult(new TokenScores(ids, logs));
    }

    public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Prompts.Enqueue(prompt);
        if (Tokenizer.CountTokens(prompt) + 2 > MaxSequenceLength)
        {
            throw new ArgumentException("The prompt exceeds MaxSequenceLength.", nameof(prompt));
        }

        int start = prompt.LastIndexOf("<user_text>", StringComparison.Ordinal);
        int end = prompt.LastIndexOf("</user_text>", StringComparison.Ordinal);
        string quoted = start >= 0 && end > start ? prompt[(start + 11)..end].ToLowerInvariant() : string.Empty;
        double logOdds = TrueBias + (1.5 * (FoodWords.Count(quoted.Contains) - PhoneWords.Count(quoted.Contains)));
        double pTrue = 1 / (1 + Math.Exp(-logOdds));
        var result = new List<TokenScores>();
        foreach (var continuation in continuations)
        {
            double p = continuation.Trim() == "True" ? pTrue : continuation.Trim() == "False" ? 1 - pTrue : 1e-6;
            result.Add(new TokenScores([0], [(float)Math.Log(p)]));
        }

        return Task.FromResult<IReadOnlyList<TokenScores>>(result);
    }

    public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default) =>
        Task.FromResult(new float[tokenIds.Count]);
}
