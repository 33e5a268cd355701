using LlmKit.Plugins.Compression.Scoring;

namespace LlmKit.Plugins.Compression.Tests;

public sealed class FallbackScorerTests
{
    [Fact]
    public void Word_tokenizer_round_trips_and_counts_pieces()
    {
        var tokenizer = new WordTokenizer();
        const string text = "User: It costs $3.50, right?\n  Yes —  twice.";
        IReadOnlyList<int> ids = tokenizer.EncodeToIds(text);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(ids.Count, tokenizer.CountTokens(text));
        // Words carry their leading spaces; punctuation, other spaces and line breaks are their own pieces.
        Assert.Equal(["User", ":", " It", " costs", " ", "$", "3", ".", "50", ",", " right", "?", "\n", "  Yes", " ", "—", "  twice", "."],
            tokenizer.EncodeToTokens(text, out _).Select(t => t.Value));
    }

    [Fact]
    public async Task Repeated_tokens_become_predictable()
    {
        var scorer = new StatisticalTokenScorer(new WordTokenizer());
        var scores = await scorer.ScoreAsync(string.Empty, "the quiet harbour keeps its boats. the quiet harbour keeps its boats.");
        int half = scores.TokenIds.Count / 2;
        for (int i = 1; i < half; i++)
        {
            // The second occurrence (seen bigram) is more probable than the first.
            Assert.True(scores.LogProbabilities[half + i] > scores.LogProbabilities[i], $"token {i}");
        }
    }

    [Fact]
    public async Task Background_corpus_makes_common_words_predictable()
    {
        var tokenizer = new WordTokenizer();
        var plain = new StatisticalTokenScorer(tokenizer);
        var trained = new StatisticalTokenScorer(tokenizer, ReviewText.Sentences.Take(500));
        int[] ids = [.. tokenizer.EncodeToIds("The food was good and the service was")];
        float[] before = await plain.ScoreTokensAsync([], ids);
        float[] after = await trained.ScoreTokensAsync([], ids);
        Assert.True(after.Sum() > before.Sum());
    }

    [Fact]
    public async Task Fallback_compressor_meets_the_rate_and_drops_repetition_first()
    {
        var tokenizer = new WordTokenizer();
        var compressor = new PromptCompressor(new StatisticalTokenScorer(tokenizer, ReviewText.Sentences.Skip(500)));
        string text = ReviewText.WithTokens(tokenizer, 1000);
        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(0.5));
        Assert.InRange(result.Ratio, 0.475, 0.525);
    }

    [Fact]
    public async Task Continuation_is_scored_as_tokenised_inside_the_joined_text()
    {
        var tokenizer = new WordTokenizer();
        var scorer = new StatisticalTokenScorer(tokenizer);
        var scores = await scorer.ScoreAsync("Hello there", " general Kenobi");
        Assert.Equal(tokenizer.EncodeToIds(" general Kenobi"), scores.TokenIds);
        Assert.All(scores.LogProbabilities, lp => Assert.True(lp < 0 && float.IsFinite(lp)));
        await Assert.ThrowsAsync<ArgumentException>(() => scorer.ScoreAsync("x", string.Empty));
        await Assert.ThrowsAsync<ArgumentException>(() => scorer.ScoreTokensAsync([], []));
    }
}
