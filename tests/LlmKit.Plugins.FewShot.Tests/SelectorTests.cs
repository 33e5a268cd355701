using LlmKit.Embeddings;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;

namespace LlmKit.Plugins.FewShot.Tests;

public class SelectorTests
{
    private static readonly FewShotExample Password = TestSupport.Example("How do I reset my password?", "Use the 'Forgot password' link.", "account");
    private static readonly FewShotExample PasswordDuplicate = TestSupport.Example("How do I reset my password??", "Click 'Forgot password'.", "account");
    private static readonly FewShotExample PasswordDuplicate2 = TestSupport.Example("how do i reset my password", "Go to the login page.", "account");
    private static readonly FewShotExample Email = TestSupport.Example("How do I change my email address?", "Open Settings > Account.", "account");
    private static readonly FewShotExample Weather = TestSupport.Example("What will the weather be tomorrow?", "Sunny.", "weather");
    private static readonly FewShotExample Translate = TestSupport.Example("Translate 'good morning' into French", "Bonjour.", "language");

    public static TheoryData<string> SelectorNames => new() { "similarity", "mmr", "bm25", "random", "ensemble", "balanced", "budget" };

    private static IFewShotSelector Create(string name, FewShotExampleStore store)
    {
        var generator = new HashingEmbeddingGenerator();
        return name switch
        {
            "similarity" => new SemanticSimilaritySelector(store, generator),
            "mmr" => new MaxMarginalRelevanceSelector(store, generator),
            "bm25" => new Bm25Selector(store),
            "random" => new RandomSelector(store, seed: 7),
            "ensemble" => new EnsembleSelector(new SemanticSimilaritySelector(store, generator), new Bm25Selector(store)),
            "balanced" => new LabelBalancedSelector(new SemanticSimilaritySelector(store, generator)),
            "budget" => new TokenBudgetSelector(new Bm25Selector(store), TestSupport.Stories260KTokenizer, maxTokens: 10_000),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    private static FewShotExampleStore Pool() => new([Password, PasswordDuplicate, PasswordDuplicate2, Email, Weather, Translate]);

    [Theory]
    [MemberData(nameof(SelectorNames))]
    public async Task Count_below_one_throws_naming_count(string name)
    {
        var selector = Create(name, Pool());
        foreach (int bad in new[] { 0, -3 })
        {
            var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => selector.SelectAsync("x", bad));
            Assert.Equal("count", ex.ParamName);
        }

        await Assert.ThrowsAsync<ArgumentNullException>(() => selector.SelectAsync(null!, 1));
    }

    [Theory]
    [MemberData(nameof(SelectorNames))]
    public async Task Empty_store_gives_an_empty_result(string name)
    {
        var result = await Create(name, new FewShotExampleStore()).SelectAsync("anything", 4);
        Assert.Empty(result);
    }

    [Theory]
    [MemberData(nameof(SelectorNames))]
    public async Task Results_are_distinct_and_capped_by_the_pool(string name)
    {
        var result = await Create(name, Pool()).SelectAsync("reset my password", 50);
        Assert.Equal(6, result.Count);
        Assert.Equal(6, result.Select(r => r.Example).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Theory]
    [MemberData(nameof(SelectorNames))]
    public async Task A_cancelled_token_stops_selection(string name)
    {
        var selector = Create(name, Pool());
        await selector.SelectAsync("warm up", 1); // build caches first, so cancellation is checked on the query path
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => selector.SelectAsync("reset my password", 2, cts.Token));
    }

    [Fact]
    public async Task Similarity_ranks_the_obvious_match_first_with_cosine_scores()
    {
        var result = await new SemanticSimilaritySelector(Pool(), new HashingEmbeddingGenerator()).SelectAsync("What's the weather going to be tomorrow?", 2);
        Assert.Same(Weather, result[0].Example);
        Assert.InRange(result[0].Score, 0.3, 1.0); // cosine of two L2-normalised vectors; a strong lexical match
        Assert.True(result[0].Score >= result[1].Score);
    }

    [Fact]
    public async Task Mmr_picks_a_diverse_set_where_similarity_picks_duplicates()
    {
        var store = Pool();
        var generator = new HashingEmbeddingGenerator();
        const string query = "I need to reset my password";
        var similar = await new SemanticSimilaritySelector(store, generator).SelectAsync(query, 3);
        var diverse = await new MaxMarginalRelevanceSelector(store, generator, lambda: 0.5).SelectAsync(query, 3);

        var duplicates = new[] { Password, PasswordDuplicate, PasswordDuplicate2 };
        Assert.All(similar, s => Assert.Contains(s.Example, duplicates)); // plain similarity: three rephrasings of one question
        Assert.Contains(diverse[0].Example, duplicates);                 // MMR still starts with the most relevant
        Assert.Equal(1, diverse.Count(d => duplicates.Contains(d.Example))); // and then refuses the near-copies
    }

    [Fact]
    public async Task Mmr_with_lambda_one_equals_similarity()
    {
        var store = Pool();
        var generator = new HashingEmbeddingGenerator();
        var similar = await new SemanticSimilaritySelector(store, generator).SelectAsync("password email", 4);
        var mmr = await new MaxMarginalRelevanceSelector(store, generator, lambda: 1).SelectAsync("password email", 4);
        Assert.Equal(similar.Select(s => s.Example), mmr.Select(s => s.Example));
    }

    [Fact]
    public void Mmr_and_bm25_validate_their_parameters()
    {
        var store = Pool();
        Assert.Equal("lambda", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxMarginalRelevanceSelector(store, new HashingEmbeddingGenerator(), lambda: 1.5)).ParamName);
        Assert.Equal("fetchCount", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxMarginalRelevanceSelector(store, new HashingEmbeddingGenerator(), fetchCount: 0)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentOutOfRangeException>(() => new Bm25Selector(store, b: -0.1)).ParamName);
        Assert.Equal("k1", Assert.Throws<ArgumentOutOfRangeException>(() => new Bm25Selector(store, k1: double.NaN)).ParamName);
        Assert.Equal("maxNGram", Assert.Throws<ArgumentOutOfRangeException>(() => new Bm25Selector(store, maxNGram: 4)).ParamName);
    }

    [Fact]
    public async Task Bm25_score_matches_the_hand_computed_value()
    {
        var store = new FewShotExampleStore([TestSupport.Example("apple banana", "a"), TestSupport.Example("cherry", "c")]);
        var result = await new Bm25Selector(store).SelectAsync("Apple!", 2);
        // N = 2, df(apple) = 1: idf = ln(1 + 1.5 / 1.5) = ln 2. avgdl = 1.5, |d0| = 2:
        // norm = 1.2 · (0.25 + 0.75 · 2 / 1.5) = 1.5; score = ln 2 · 1 · 2.2 / (1 + 1.5) = 0.88 · ln 2.
        Assert.Equal("apple banana", result[0].Example.Input);
        Assert.Equal(0.88 * Math.Log(2), result[0].Score, 5); // float accumulation: 5 decimals
        Assert.Equal(0, result[1].Score);                     // no shared term: filled in store order
    }

    [Fact]
    public async Task Bm25_prefers_rare_terms_and_bigrams_reward_phrase_overlap()
    {
        var store = new FewShotExampleStore(
        [
            TestSupport.Example("the order of the day", "1"),
            TestSupport.Example("what is quantum entanglement", "2"),
            TestSupport.Example("the day of the order", "3"),
        ]);
        var unigram = await new Bm25Selector(store).SelectAsync("explain quantum entanglement in the lab", 1);
        Assert.Equal("2", unigram[0].Example.Output);

        // Unigrams cannot tell the two word orders apart; bigrams can.
        var bag = await new Bm25Selector(store).SelectAsync("order of the day", 2);
        Assert.Equal(bag[0].Score, bag[1].Score, 6);
        var phrase = await new Bm25Selector(store, maxNGram: 2).SelectAsync("order of the day", 2);
        Assert.Equal("1", phrase[0].Example.Output);
        Assert.True(phrase[0].Score > phrase[1].Score);
    }

    [Fact]
    public async Task Random_is_reproducible_per_seed_and_input()
    {
        var store = new FewShotExampleStore(Enumerable.Range(0, 100).Select(i => TestSupport.Example($"example {i}", $"{i}")));
        async Task<string> Pick(int seed, string input) =>
            string.Join(",", (await new RandomSelector(store, seed).SelectAsync(input, 5)).Select(s => s.Example.Output));

        Assert.Equal(await Pick(1, "q"), await Pick(1, "q"));
        // 100·99·98·97·96 ordered draws: a collision by chance has probability ~1e-10.
        Assert.NotEqual(await Pick(1, "q"), await Pick(2, "q"));
        Assert.NotEqual(await Pick(1, "q"), await Pick(1, "another query"));
    }

    [Fact]
    public async Task Random_selection_is_roughly_uniform()
    {
        var store = new FewShotExampleStore(Enumerable.Range(0, 10).Select(i => TestSupport.Example($"e{i}", $"{i}")));
        var selector = new RandomSelector(store, seed: 3);
        var hits = new int[10];
        for (int q = 0; q < 2000; q++)
        {
            foreach (var s in await selector.SelectAsync($"query {q}", 2))
            {
                hits[int.Parse(s.Example.Output, System.Globalization.CultureInfo.InvariantCulture)]++;
            }
        }

        // Each example is expected 400 times (2000 draws × 2 of 10); binomial sd ≈ 18, so ±100 is > 5 sd.
        Assert.All(hits, h => Assert.InRange(h, 300, 500));
    }

    [Fact]
    public async Task Ensemble_fuses_rankings_with_reciprocal_ranks()
    {
        var x = TestSupport.Example("x", "x");
        var y = TestSupport.Example("y", "y");
        var z = TestSupport.Example("z", "z");
        var ensemble = new EnsembleSelector(new FixedRanking(x, y, z), new FixedRanking(z, x));
        var result = await ensemble.SelectAsync("q", 3);
        // x: 1/61 + 1/62, z: 1/63 + 1/61, y: 1/62.
        Assert.Equal([x, z, y], result.Select(r => r.Example));
        Assert.Equal((1.0 / 61) + (1.0 / 62), result[0].Score, 12);
        Assert.Equal((1.0 / 63) + (1.0 / 61), result[1].Score, 12);
        Assert.Equal(1.0 / 62, result[2].Score, 12);
    }

    [Fact]
    public async Task Ensemble_weights_shift_the_ranking()
    {
        var x = TestSupport.Example("x", "x");
        var z = TestSupport.Example("z", "z");
        var ensemble = new EnsembleSelector([new FixedRanking(x, z), new FixedRanking(z, x)], weights: [1.0, 3.0]);
        var result = await ensemble.SelectAsync("q", 2);
        Assert.Same(z, result[0].Example);
        Assert.Throws<ArgumentException>(() => new EnsembleSelector([new FixedRanking(x)], weights: [1.0, 2.0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleSelector([new FixedRanking(x)], weights: [0.0]));
        Assert.Throws<ArgumentException>(() => new EnsembleSelector());
    }

    [Fact]
    public async Task Label_balanced_takes_turns_between_labels_and_keeps_inner_order()
    {
        var p1 = TestSupport.Example("p1", "+", "pos");
        var p2 = TestSupport.Example("p2", "+", "pos");
        var p3 = TestSupport.Example("p3", "+", "pos");
        var n1 = TestSupport.Example("n1", "-", "neg");
        var p4 = TestSupport.Example("p4", "+", "pos");
        var n2 = TestSupport.Example("n2", "-", "neg");
        var selector = new LabelBalancedSelector(new FixedRanking(p1, p2, p3, n1, p4, n2));
        var result = await selector.SelectAsync("q", 4);
        Assert.Equal([p1, p2, n1, n2], result.Select(r => r.Example));

        // With one label exhausted the rest comes from the other label.
        var onlyOneNegative = await new LabelBalancedSelector(new FixedRanking(p1, n1, p2, p3)).SelectAsync("q", 4);
        Assert.Equal([p1, n1, p2, p3], onlyOneNegative.Select(r => r.Example));
    }

    [Fact]
    public async Task Budget_keeps_the_best_examples_that_fit_and_warns_about_drops()
    {
        var big = TestSupport.Example(
            "Once upon a time there was a little girl who loved to play in the big green park with her friends every day.",
            "She was very happy and smiled at the sun.");
        var small1 = TestSupport.Example("Tom saw a dog.", "It was big.");
        var small2 = TestSupport.Example("Sue had a cat.", "It was soft.");
        var logger = new ListLogger<TokenBudgetSelector>();
        var tokenizer = TestSupport.Stories260KTokenizer;
        int Size(FewShotExample e) => tokenizer.CountTokens(e.Input) + tokenizer.CountTokens(e.Output);
        int budget = Size(small1) + Size(small2);
        Assert.True(Size(big) > budget, "the long example alone must not fit");

        var selector = new TokenBudgetSelector(new FixedRanking(big, small1, small2), tokenizer, budget, logger: logger);
        Assert.Equal(Size(big), selector.CountTokens(big));
        var result = await selector.SelectAsync("q", 2);

        Assert.Equal([small1, small2], result.Select(r => r.Example)); // the best one is skipped, the next ones fill the budget exactly
        var warning = Assert.Single(logger.Entries);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains($"dropped 1 of the 2 best examples to fit {budget} tokens", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Budget_smaller_than_every_example_gives_an_empty_result_with_a_warning()
    {
        var logger = new ListLogger<TokenBudgetSelector>();
        var selector = new TokenBudgetSelector(new FixedRanking(Password, Weather), TestSupport.Stories260KTokenizer, maxTokens: 3, logger: logger);
        Assert.Empty(await selector.SelectAsync("q", 2));
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("kept 0 examples", StringComparison.Ordinal));
        Assert.Equal("maxTokens", Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBudgetSelector(new FixedRanking(), TestSupport.Stories260KTokenizer, 0)).ParamName);
    }

    [Fact]
    public async Task Budget_never_exceeds_the_budget_on_random_pools()
    {
        string[] words = ["the", "little", "dog", "ran", "to", "a", "big", "tree", "and", "laughed", "happily", "because", "sun"];
        string Sentence(Random r, int min) => string.Join(' ', Enumerable.Range(0, r.Next(min, 25)).Select(_ => words[r.Next(words.Length)]));
        var tokenizer = TestSupport.Stories260KTokenizer;
        var random = new Random(1234);
        for (int trial = 0; trial < 200; trial++)
        {
            var pool = Enumerable.Range(0, random.Next(1, 30))
                .Select(i => TestSupport.Example(Sentence(random, 1), Sentence(random, 0)))
                .ToArray();
            int budget = random.Next(1, 200);
            int overhead = random.Next(0, 5);
            int count = random.Next(1, 8);
            var selector = new TokenBudgetSelector(new FixedRanking(pool), tokenizer, budget, overhead);
            var result = await selector.SelectAsync("q", count);

            int used = result.Sum(r => tokenizer.CountTokens(r.Example.Input) + tokenizer.CountTokens(r.Example.Output) + overhead);
            Assert.True(used <= budget, $"trial {trial}: used {used} > budget {budget}");
            Assert.True(result.Count <= count);
            Assert.Equal(pool.Where(p => result.Any(r => ReferenceEquals(r.Example, p))), result.Select(r => r.Example)); // rank order kept
        }
    }

    /// <summary>An inner selector with a fixed ranking, to test wrappers on exact inputs.</summary>
    private sealed class FixedRanking(params FewShotExample[] ranking) : IFewShotSelector
    {
        public Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Task.FromResult<IReadOnlyList<SelectedExample>>(
                ranking.Take(count).Select((e, i) => new SelectedExample(e, ranking.Length - i)).ToArray());
        }
    }
}
