using System.Text.RegularExpressions;
using LlmKit.Testing;

namespace LlmKit.Plugins.Compression.Tests;

/// <summary>The compressor with the real stories260K scorer (context window 512) on real review text.</summary>
public sealed class StoriesCompressionTests
{
    private static readonly PromptCompressor Compressor = new(Stories.Scorer);

    public static TheoryData<int, double> LengthsAndRates => new()
    {
        { 50, 0.5 }, { 50, 0.33 },
        { 200, 0.5 }, { 200, 0.33 },
        { 1000, 0.5 }, { 1000, 0.25 },
        { 4000, 0.5 }, { 4000, 0.33 },
        { 8000, 0.33 },
    };

    [Theory]
    [MemberData(nameof(LengthsAndRates))]
    public async Task Achieved_rate_is_within_5_percent_of_the_requested_rate(int tokens, double rate)
    {
        string text = ReviewText.WithTokens(Compressor.TargetTokenizer, tokens);
        int original = Compressor.CountTokens(text);
        Assert.InRange(original, tokens - 1, tokens + 1); // the fixture cut is exact up to a token merging at the cut

        CompressionResult result = await Compressor.CompressAsync(text, CompressionTarget.Rate(rate));

        // The statistics are real counts of the returned text, not bookkeeping.
        Assert.Equal(original, result.OriginalTokens);
        Assert.Equal(Compressor.CountTokens(result.Text), result.CompressedTokens);
        // ±5% of the requested rate, relative (e.g. 0.475–0.525 for 0.5), as the issue asks.
        Assert.InRange(result.Ratio, rate * 0.95, rate * 1.05);
        // Scored in segments of at most 200 tokens (the default), cut at word boundaries so a little under 200 each.
        int scorerTokens = Stories.Scorer.Tokenizer.EncodeToIds(text).Count;
        Assert.InRange(result.SegmentsScored, (int)Math.Ceiling(scorerTokens / 200.0), (int)Math.Ceiling(scorerTokens / 180.0));
    }

    [Theory]
    [InlineData(200, 64)]
    [InlineData(4000, 900)]
    public async Task Token_target_is_never_exceeded(int tokens, int target)
    {
        string text = ReviewText.WithTokens(Compressor.TargetTokenizer, tokens, skip: 100);
        CompressionResult result = await Compressor.CompressAsync(text, CompressionTarget.Tokens(target));
        Assert.True(result.CompressedTokens <= target, $"{result.CompressedTokens} > {target}");
        Assert.True(result.TargetMet);
        // And it uses the budget: whole words are kept or dropped (a few tokens each), so within max(4 tokens, 2%).
        Assert.True(result.CompressedTokens >= target - Math.Max(4, target * 0.02), $"{result.CompressedTokens} is far below {target}");
    }

    [Fact]
    public async Task Forced_strings_digits_and_role_markers_all_survive()
    {
        var options = new PromptCompressionOptions();
        options.ForceKeepStrings.Add("Rick Steve");
        options.ForceKeepPatterns.Add(@"\bpho\b");
        var compressor = new PromptCompressor(Stories.Scorer, options);
        var lines = new List<string>();
        for (int i = 0; i < 60; i++)
        {
            string speaker = i % 2 == 0 ? "User:" : "Assistant:";
            lines.Add($"{speaker} {ReviewText.Sentences[i]} Table {i * 7 + 3} at 19:{i % 60:00}.");
        }

        lines.Add("User: Rick Steve said the pho was good.");
        string text = string.Join('\n', lines);
        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(0.4));

        Assert.True(result.Ratio < 0.6, $"ratio {result.Ratio}");
        string[] outLines = result.Text.Split('\n');
        Assert.Equal(lines.Count, outLines.Length); // line structure kept
        for (int i = 0; i < lines.Count; i++)
        {
            string speaker = lines[i].Split(' ')[0];
            Assert.StartsWith(speaker, outLines[i], StringComparison.Ordinal);
            // Every digit run of the line survives, in order.
            string[] expectedNumbers = Regex.Matches(lines[i], @"\d+").Select(m => m.Value).ToArray();
            string[] actualNumbers = Regex.Matches(outLines[i], @"\d+").Select(m => m.Value).ToArray();
            Assert.Equal(expectedNumbers, actualNumbers);
        }

        Assert.Contains("Rick Steve", result.Text, StringComparison.Ordinal);
        Assert.Contains("pho", outLines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compressing_4000_tokens_scores_each_token_once_with_bounded_context()
    {
        // The cost of a compression is the scorer's work, counted here (its speed is the compress benchmark's:
        // ms per 1K input tokens). Each token is scored once, in segments of at most 200, each conditioned on at
        // most 128 kept tokens: linear in the input, and calibrating the rate re-tokenises without re-scoring.
        var scorer = new CountingTokenScorer(Stories.Scorer);
        var compressor = new PromptCompressor(scorer);
        string text = ReviewText.WithTokens(compressor.TargetTokenizer, 4000, skip: 300);
        int scorerTokens = Stories.Scorer.Tokenizer.EncodeToIds(text).Count;

        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(0.5));

        Assert.InRange(result.Ratio, 0.475, 0.525);
        Assert.Equal(result.SegmentsScored, scorer.Calls);
        Assert.Equal(scorerTokens, scorer.ScoredTokens);
        Assert.InRange(scorer.Calls, (int)Math.Ceiling(scorerTokens / 200.0), (int)Math.Ceiling(scorerTokens / 180.0));
        Assert.True(scorer.ContextTokens <= 128L * scorer.Calls, $"{scorer.ContextTokens} context tokens in {scorer.Calls} calls");
    }

    [Fact]
    public void Counting_100_KB_of_text_with_a_warm_cache_allocates_nothing_per_word()
    {
        // Counting is fast because a warm count looks every space-separated chunk up in a cache instead of
        // tokenising it; that is asserted through allocations (a tokenised chunk allocates, a lookup does not).
        // The milliseconds are the compress benchmark's ("Token counting, 100,000 characters").
        var compressor = new PromptCompressor(Stories.Scorer); // its own chunk cache, untouched by other tests
        string text = string.Join('\n', ReviewText.Sentences);
        while (text.Length < 100_000)
        {
            text += "\n" + text;
        }

        text = text[..100_000];
        int chunks = text.Count(c => c == ' ');
        int expected = Stories.Scorer.Tokenizer.CountTokens(text);
        Assert.Equal(expected, compressor.CountTokens(text)); // cold: fills the cache; exact

        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = compressor.CountTokens(text);
        long warm = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        Stories.Scorer.Tokenizer.CountTokens(text);
        long tokenizer = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(expected, count);
        Assert.True(count > 20_000, $"{count} tokens"); // a 512-piece vocabulary yields well over one token per word
        Assert.True(warm < chunks, $"a warm count of {chunks:N0} chunks allocated {warm:N0} bytes (the tokenizer: {tokenizer:N0})");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Whole_word_pruning_never_leaves_word_fragments(bool wholeWords)
    {
        var compressor = new PromptCompressor(Stories.Scorer, new PromptCompressionOptions { PruneWholeWords = wholeWords });
        string text = ReviewText.WithTokens(compressor.TargetTokenizer, 600, skip: 200);
        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(0.4));

        const string word = @"[\p{L}\p{Nd}]+(?:['’]\p{L}+)*"; // apostrophes inside words (Lily's) belong to them
        var inputWords = Regex.Matches(text, word).Select(m => m.Value).ToHashSet();
        var outputWords = Regex.Matches(result.Text, word).Select(m => m.Value).ToList();
        int fragments = outputWords.Count(w => !inputWords.Contains(w));
        if (wholeWords)
        {
            Assert.Equal(0, fragments);
        }
        else
        {
            Assert.True(fragments > 0, "token-level pruning on a 512-piece vocabulary is expected to cut words");
        }

        Assert.InRange(result.Ratio, 0.38, 0.42);
    }

    [Fact]
    public void Chunked_counting_equals_the_tokenizer_count_exactly()
    {
        var counter = new TokenCounter(Stories.Scorer.Tokenizer);
        Assert.True(counter.IsChunked); // stories260K's pieces never hold a space after their first character
        var random = new Random(17);
        for (int i = 0; i < 300; i++)
        {
            // Review sentences joined by one or two spaces or line breaks, cut anywhere (even mid-word).
            int skip = random.Next(ReviewText.Sentences.Count - 10);
            string text = string.Join(random.Next(3) switch { 0 => " ", 1 => "  ", _ => "\n" }, ReviewText.Sentences.Skip(skip).Take(random.Next(1, 8)));
            text = text[random.Next(Math.Min(5, text.Length))..random.Next(text.Length / 2, text.Length + 1)];
            Assert.Equal(Stories.Scorer.Tokenizer.CountTokens(text), counter.Count(text));
        }
    }

    [Fact]
    public async Task Question_conditioned_ranking_keeps_the_context_that_answers_the_question()
    {
        // stories260K knows children's stories: the story that mentions the question's words should rank first.
        string[] contexts =
        [
            ReviewText.WithTokens(Compressor.TargetTokenizer, 120, skip: 10),
            "Once upon a time, there was a little girl named Lily. She had a red ball. She loved to play with her red ball in the park every day.",
            ReviewText.WithTokens(Compressor.TargetTokenizer, 120, skip: 40),
        ];
        var prompt = new PromptParts("Answer the question.", contexts, "What did Lily love to play with in the park? She loved to play with her red ball.");
        CompressionResult result = await Compressor.CompressAsync(prompt, CompressionTarget.Tokens(110));
        Assert.Equal([1], result.KeptContexts);
        Assert.StartsWith("Answer the question.", result.Text, StringComparison.Ordinal);
        Assert.EndsWith(prompt.Question!, result.Text, StringComparison.Ordinal);
    }
}
