using LlmKit.Plugins.Compression.Scoring;

namespace LlmKit.Plugins.Compression.Tests;

/// <summary>Exact behaviour of the compressor with a hand-made scorer whose log-probabilities are known in advance.</summary>
public sealed class PromptCompressorTests
{
    // Letter-only words (no digits, which would be force-kept), each with a distinct log-probability.
    private static readonly string[] Words =
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"];

    private static Dictionary<string, float> Table(int seed)
    {
        var random = new Random(seed);
        float[] values = Enumerable.Range(1, Words.Length).Select(i => -0.15f * i).OrderBy(_ => random.Next()).ToArray();
        return Words.Select((w, i) => (w, values[i])).ToDictionary(p => p.w, p => p.Item2);
    }

    private static (PromptCompressor Compressor, TableScorer Scorer) Create(Dictionary<string, float> table, PromptCompressionOptions? options = null, int window = 100_000)
    {
        var tokenizer = new WordTokenizer();
        var scorer = new TableScorer(tokenizer, piece => table.TryGetValue(piece, out float v) ? v : TableScorer.DefaultLogProbability, window);
        return (new PromptCompressor(scorer, options), scorer);
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(2, 0.3)]
    [InlineData(3, 0.75)]
    public async Task Tokens_with_low_self_information_are_dropped_before_high_ones(int seed, double rate)
    {
        Dictionary<string, float> table = Table(seed);
        (PromptCompressor compressor, _) = Create(table);
        string text = string.Join(' ', Words);

        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(rate));

        // Expected: the round(rate × 20) words with the highest self-information (lowest log p), in text order.
        int keep = (int)Math.Round(rate * Words.Length, MidpointRounding.AwayFromZero);
        var expected = Words.OrderBy(w => table[w]).Take(keep).ToHashSet();
        string[] kept = result.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Words.Where(expected.Contains), kept);
        Assert.Equal(keep, result.CompressedTokens);
    }

    [Fact]
    public async Task Within_every_segment_each_dropped_token_is_less_surprising_than_each_kept_one()
    {
        var random = new Random(7);
        string[] words = Enumerable.Range(0, 120).Select(_ => Words[random.Next(Words.Length)]).ToArray();
        Dictionary<string, float> table = Table(11);
        var options = new PromptCompressionOptions { SegmentTokens = 16 };
        (PromptCompressor compressor, _) = Create(table, options);

        CompressionResult result = await compressor.CompressAsync(string.Join(' ', words), CompressionTarget.Rate(0.4));

        // Re-align the kept words to positions (kept text is a subsequence of the original words).
        string[] kept = result.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var keptPositions = new List<int>();
        for (int i = 0, k = 0; i < words.Length && k < kept.Length; i++)
        {
            if (words[i] == kept[k])
            {
                keptPositions.Add(i);
                k++;
            }
        }

        Assert.Equal(kept.Length, keptPositions.Count);
        for (int segment = 0; segment < words.Length; segment += 16)
        {
            var inSegment = Enumerable.Range(segment, Math.Min(16, words.Length - segment)).ToList();
            var keptHere = inSegment.Where(keptPositions.Contains).Select(i => -table[words[i]]).ToList();
            var droppedHere = inSegment.Where(i => !keptPositions.Contains(i)).Select(i => -table[words[i]]).ToList();
            if (keptHere.Count > 0 && droppedHere.Count > 0)
            {
                // Greedy alignment may pick an equal word earlier, so compare by value, which ties cannot break.
                Assert.True(droppedHere.Max() <= keptHere.Min() || keptHere.Count(v => v < droppedHere.Max()) <= droppedHere.Count(v => v == droppedHere.Max()),
                    $"segment {segment / 16}: dropped self-information {droppedHere.Max()} exceeds kept {keptHere.Min()}");
            }
        }

        Assert.InRange(result.Ratio, 0.4 * 0.95, 0.4 * 1.05);
    }

    [Fact]
    public async Task Probability_threshold_drops_exactly_the_predictable_tokens()
    {
        Dictionary<string, float> table = Table(5);
        (PromptCompressor compressor, _) = Create(table);
        const double threshold = 0.25; // ln 0.25 ≈ −1.386: words with log p ≥ that are dropped

        CompressionResult result = await compressor.CompressAsync(string.Join(' ', Words), CompressionTarget.ProbabilityThreshold(threshold));

        string[] expected = Words.Where(w => table[w] < Math.Log(threshold)).ToArray();
        Assert.Equal(expected, result.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Null(result.TargetTokens);
    }

    [Fact]
    public async Task Each_segment_is_conditioned_on_the_compressed_prefix_within_the_window()
    {
        Dictionary<string, float> table = Table(9);
        var options = new PromptCompressionOptions { SegmentTokens = 5, MaxConditioningTokens = 7 };
        (PromptCompressor compressor, TableScorer scorer) = Create(table, options);
        string text = string.Join(' ', Words.Concat(Words));

        await compressor.CompressAsync(text, CompressionTarget.Rate(0.5));

        // Replay: the context of call k must be the last ≤7 tokens kept from calls 0..k-1 (most surprising of each segment).
        var keptSoFar = new List<int>();
        foreach ((int[] context, int[] tokens) in scorer.Calls)
        {
            Assert.Equal(keptSoFar.Skip(Math.Max(0, keptSoFar.Count - 7)), context);
            var bySurprise = tokens.Select((id, i) => (id, i, lp: -table[scorer.Tokenizer.Decode([id])!.Trim()]))
                .OrderByDescending(t => t.lp).ThenBy(t => t.i).Take((int)Math.Round(0.5 * tokens.Length, MidpointRounding.AwayFromZero))
                .OrderBy(t => t.i).Select(t => t.id);
            keptSoFar.AddRange(bySurprise);
        }

        Assert.Equal(8, scorer.Calls.Count); // 40 tokens in segments of 5
    }

    [Fact]
    public async Task Text_longer_than_the_scorer_window_is_scored_in_windows()
    {
        (PromptCompressor compressor, TableScorer scorer) = Create(Table(3), window: 16);
        string text = string.Join(' ', Enumerable.Repeat(Words, 10).SelectMany(w => w)); // 200 tokens, window 16

        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Rate(0.5));

        Assert.All(scorer.Calls, call => Assert.True(1 + call.Context.Length + call.Tokens.Length <= 16));
        Assert.Equal(200, scorer.Calls.Sum(c => c.Tokens.Length)); // every token scored exactly once
        Assert.InRange(result.Ratio, 0.475, 0.525);
    }

    [Fact]
    public async Task Instruction_and_question_are_kept_verbatim_and_contexts_ranked_by_the_question()
    {
        var table = Words.ToDictionary(w => w, _ => -0.01f); // everything predictable: only forced text survives pruning
        // Retention 1: the coarse stage keeps contexts up to the context budget itself.
        (PromptCompressor compressor, TableScorer scorer) = Create(table, new PromptCompressionOptions { CoarseContextRetention = 1 });
        int apple = scorer.Tokenizer.EncodeToIds(" apple")[0];
        scorer.Override = (context, tokens) =>
        {
            // The question is likely only after a context that mentions "apple".
            bool relevant = context.Contains(apple);
            return tokens.Select(_ => relevant ? -0.1f : -5f).ToArray();
        };

        string filler = string.Join(' ', Words);
        var prompt = new PromptParts(
            "alpha bravo charlie",
            [filler, filler + " apple " + filler, filler],
            "delta echo foxtrot");
        CompressionResult result = await compressor.CompressAsync(prompt, CompressionTarget.Tokens(40));

        Assert.Equal([1], result.KeptContexts);
        Assert.StartsWith("alpha bravo charlie\n\n", result.Text, StringComparison.Ordinal);
        Assert.EndsWith("\n\ndelta echo foxtrot", result.Text, StringComparison.Ordinal);
        Assert.True(result.CompressedTokens <= 40);
    }

    [Fact]
    public async Task Empty_text_returns_empty_without_scoring()
    {
        (PromptCompressor compressor, TableScorer scorer) = Create(Table(1));
        CompressionResult result = await compressor.CompressAsync(string.Empty, CompressionTarget.Rate(0.5));
        Assert.Equal(string.Empty, result.Text);
        Assert.Equal(0, result.OriginalTokens);
        Assert.Equal(1, result.Ratio);
        Assert.Empty(scorer.Calls);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void Rate_outside_zero_one_is_rejected_naming_the_parameter(double rate)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => CompressionTarget.Rate(rate));
        Assert.Equal("rate", ex.ParamName);
        Assert.Contains("(0, 1]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_bad_targets_and_options_are_rejected_naming_the_parameter()
    {
        Assert.Equal("maxTokens", Assert.Throws<ArgumentOutOfRangeException>(() => CompressionTarget.Tokens(0)).ParamName);
        Assert.Equal("probability", Assert.Throws<ArgumentOutOfRangeException>(() => CompressionTarget.ProbabilityThreshold(1)).ParamName);
        var scorer = new TableScorer(new WordTokenizer(), _ => -1f);
        Assert.Equal("SegmentTokens", Assert.Throws<ArgumentOutOfRangeException>(() => new PromptCompressor(scorer, new PromptCompressionOptions { SegmentTokens = 2 })).ParamName);
        var badPattern = new PromptCompressionOptions();
        badPattern.ForceKeepPatterns.Add("(unclosed");
        Assert.Equal("ForceKeepPatterns", Assert.Throws<ArgumentException>(() => new PromptCompressor(scorer, badPattern)).ParamName);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(20)]
    public async Task A_token_target_not_below_the_input_returns_it_unchanged(int target)
    {
        (PromptCompressor compressor, TableScorer scorer) = Create(Table(1));
        string text = string.Join(' ', Words); // 20 tokens
        CompressionResult result = await compressor.CompressAsync(text, CompressionTarget.Tokens(target));
        Assert.Equal(text, result.Text);
        Assert.Equal(1, result.Ratio);
        Assert.Empty(scorer.Calls);
    }

    [Fact]
    public async Task A_failing_scorer_raises_an_error_naming_the_segment()
    {
        var options = new PromptCompressionOptions { SegmentTokens = 8 };
        (PromptCompressor compressor, TableScorer scorer) = Create(Table(1), options);
        var failure = new InvalidOperationException("model crashed");
        int calls = 0;
        scorer.Override = (_, tokens) => ++calls == 2 ? throw failure : tokens.Select(_ => -1f).ToArray();

        var ex = await Assert.ThrowsAsync<PromptCompressionException>(() => compressor.CompressAsync(string.Join(' ', Words), CompressionTarget.Rate(0.5)));

        Assert.Equal(1, ex.SegmentIndex);
        Assert.Contains("segment 1 of 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tokens 8..15", ex.Message, StringComparison.Ordinal);
        Assert.Same(failure, ex.InnerException);
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        (PromptCompressor compressor, _) = Create(Table(1));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => compressor.CompressAsync("alpha bravo", CompressionTarget.Rate(0.5), cts.Token));
    }

    [Fact]
    public async Task Concurrent_calls_give_the_same_result_as_sequential_ones()
    {
        (PromptCompressor compressor, _) = Create(Table(4), new PromptCompressionOptions { SegmentTokens = 6 });
        string[] texts = Enumerable.Range(0, 8).Select(i => string.Join(' ', Words.Skip(i).Concat(Words.Take(i)))).ToArray();
        string[] sequential = new string[texts.Length];
        for (int i = 0; i < texts.Length; i++)
        {
            sequential[i] = (await compressor.CompressAsync(texts[i], CompressionTarget.Rate(0.5))).Text;
        }

        CompressionResult[] parallel = await Task.WhenAll(texts.Select(t => Task.Run(() => compressor.CompressAsync(t, CompressionTarget.Rate(0.5)))));
        Assert.Equal(sequential, parallel.Select(r => r.Text));
    }
}
