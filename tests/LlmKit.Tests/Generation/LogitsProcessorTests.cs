using LlmKit.Generation;

namespace LlmKit.Tests.Generation;

public class LogitsProcessorTests
{
    private static TokenHistory History(int[] all, int promptLength) => new(all, promptLength);

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens_once()
    {
        float[] logits = [2f, -2f, 3f, 1f];
        var processor = new RepetitionPenaltyProcessor(2f, 4);

        // Token 0 appears twice: the penalty still applies once (Hugging Face semantics).
        processor.Process(logits, History([0, 1, 0], promptLength: 1));

        Assert.Equal([1f, -4f, 3f, 1f], logits);
    }

    [Fact]
    public void Frequency_and_presence_penalties_count_generated_tokens_only()
    {
        float[] logits = [0f, 0f, 0f, 0f];
        var processor = new FrequencyPresencePenaltyProcessor(frequencyPenalty: 0.5f, presencePenalty: 1f, vocabularySize: 4);

        // Prompt [3]; generated [1, 1, 2]: token 3 is not penalised, 1 pays 2*0.5+1, 2 pays 0.5+1.
        processor.Process(logits, History([3, 1, 1, 2], promptLength: 1));

        Assert.Equal([0f, -2f, -1.5f, 0f], logits);
    }

    [Fact]
    public void No_repeat_ngram_bans_the_token_that_would_repeat_a_trigram()
    {
        float[] logits = [1f, 1f, 1f, 1f];
        var processor = new NoRepeatNGramProcessor(3);

        // "0 1 2 ... 0 1" -> the next 2 would repeat the trigram (0, 1, 2).
        processor.Process(logits, History([0, 1, 2, 3, 0, 1], promptLength: 0));

        Assert.Equal([1f, 1f, float.NegativeInfinity, 1f], logits);
    }

    [Fact]
    public void Temperature_divides_logits()
    {
        float[] logits = [1f, -3f, 0.5f];
        new TemperatureProcessor(0.5f).Process(logits, History([], 0));
        Assert.Equal([2f, -6f, 1f], logits);
    }

    [Fact]
    public void Top_k_keeps_the_k_largest()
    {
        float[] logits = [0.1f, 5f, 3f, -1f, 4f];
        new TopKProcessor(2, 5).Process(logits, History([], 0));
        Assert.Equal([float.NegativeInfinity, 5f, float.NegativeInfinity, float.NegativeInfinity, 4f], logits);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_nucleus_reaching_p()
    {
        // Probabilities 0.5, 0.3, 0.2 (logits are their logs): p = 0.75 needs the first two.
        float[] logits = [MathF.Log(0.2f), MathF.Log(0.5f), MathF.Log(0.3f)];
        new TopPProcessor(0.75f, 3).Process(logits, History([], 0));
        Assert.True(float.IsNegativeInfinity(logits[0]));
        Assert.Equal(MathF.Log(0.5f), logits[1]);
        Assert.Equal(MathF.Log(0.3f), logits[2]);
    }

    [Fact]
    public void Top_p_always_keeps_the_most_likely_token()
    {
        float[] logits = [0f, 10f, 0f];
        new TopPProcessor(0.01f, 3).Process(logits, History([], 0));
        Assert.Equal([float.NegativeInfinity, 10f, float.NegativeInfinity], logits);
    }

    [Fact]
    public void Min_p_drops_tokens_below_the_scaled_maximum()
    {
        // p = 0.6, 0.3, 0.1; min_p 0.25 -> threshold 0.15: drops 0.1 only.
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)];
        new MinPProcessor(0.25f).Process(logits, History([], 0));
        Assert.False(float.IsNegativeInfinity(logits[1]));
        Assert.True(float.IsNegativeInfinity(logits[2]));
    }

    [Fact]
    public void Greedy_sampler_picks_argmax_and_lowest_id_on_ties()
    {
        Assert.Equal(2, GreedySampler.Instance.Sample([1f, 2f, 7f, 7f]));
    }

    [Fact]
    public void Multinomial_sampler_follows_the_distribution_and_is_reproducible_with_a_seed()
    {
        // p = 0.8, 0.2, 0 (removed). 20,000 draws: the share of token 0 lies within 0.8 +- 0.02
        // (binomial sd = sqrt(0.8 * 0.2 / 20000) = 0.0028, so 0.02 is about 7 sd).
        float[] logits = [MathF.Log(0.8f), MathF.Log(0.2f), float.NegativeInfinity];
        var a = new MultinomialSampler(seed: 42);
        var b = new MultinomialSampler(seed: 42);
        int zeros = 0;
        for (int i = 0; i < 20_000; i++)
        {
            int x = a.Sample(logits);
            Assert.Equal(x, b.Sample(logits));
            Assert.NotEqual(2, x);
            zeros += x == 0 ? 1 : 0;
        }

        Assert.InRange(zeros / 20_000.0, 0.78, 0.82);
    }

    [Fact]
    public void Pipeline_is_greedy_at_temperature_zero_or_top_k_one()
    {
        Assert.IsType<GreedySampler>(LogitsPipeline.Create(new GenerationOptions { Temperature = 0f }, 10).Sampler);
        Assert.IsType<GreedySampler>(LogitsPipeline.Create(new GenerationOptions { Temperature = 0.8f, TopK = 1 }, 10).Sampler);
        var sampling = LogitsPipeline.Create(new GenerationOptions { Temperature = 0.8f, TopK = 5, TopP = 0.9f, RepetitionPenalty = 1.1f }, 10);
        Assert.IsType<MultinomialSampler>(sampling.Sampler);
        Assert.Collection(
            sampling.Processors,
            p => Assert.IsType<RepetitionPenaltyProcessor>(p),
            p => Assert.IsType<TemperatureProcessor>(p),
            p => Assert.IsType<TopKProcessor>(p),
            p => Assert.IsType<TopPProcessor>(p));
    }

    [Theory]
    [InlineData("Temperature")]
    [InlineData("TopP")]
    [InlineData("TopK")]
    [InlineData("MaxNewTokens")]
    [InlineData("MinP")]
    [InlineData("RepetitionPenalty")]
    [InlineData("FrequencyPenalty")]
    public void Invalid_settings_fail_naming_the_parameter(string name)
    {
        var options = name switch
        {
            "Temperature" => new GenerationOptions { Temperature = -0.1f },
            "TopP" => new GenerationOptions { TopP = 0f },
            "TopK" => new GenerationOptions { TopK = -1 },
            "MaxNewTokens" => new GenerationOptions { MaxNewTokens = 0 },
            "MinP" => new GenerationOptions { MinP = 1.5f },
            "RepetitionPenalty" => new GenerationOptions { RepetitionPenalty = 0f },
            _ => new GenerationOptions { FrequencyPenalty = 3f },
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(name, ex.ParamName);
    }

    [Fact]
    public void Top_p_above_one_is_rejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(new GenerationOptions { TopP = 1.01f }.Validate);
        Assert.Contains("(0, 1]", ex.Message, StringComparison.Ordinal);
    }
}
