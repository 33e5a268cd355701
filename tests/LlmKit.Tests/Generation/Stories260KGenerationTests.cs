using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>Generation through the public API on the real stories260K model, ONNX Runtime and tokenizer.</summary>
public class Stories260KGenerationTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    private static int ReferenceNewTokens => LoadedModels.ReferenceSteps - Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;

    [Fact]
    public async Task Greedy_generation_reproduces_the_llama2c_reference_text()
    {
        var result = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = ReferenceNewTokens });

        string text = LoadedModels.ReferencePrompt + result.Text;
        Assert.True(SharedFixtures.Stories260KReferenceText.Length >= 200);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_concatenated_equals_non_streaming_and_counts_match()
    {
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 60 };
        var whole = await Model.GenerateAsync(LoadedModels.ReferencePrompt, options);

        var streamed = new System.Text.StringBuilder();
        GenerationUpdate? last = null;
        await foreach (var update in Model.GenerateStreamingAsync(LoadedModels.ReferencePrompt, options))
        {
            streamed.Append(update.Text);
            last = update;
        }

        Assert.Equal(whole.Text, streamed.ToString());
        Assert.Equal(60, whole.GeneratedTokenCount);
        Assert.Equal(GenerationFinishReason.MaxNewTokens, whole.FinishReason);
        Assert.Equal(GenerationFinishReason.MaxNewTokens, last!.FinishReason);
        Assert.Equal(whole.GeneratedTokenCount, last.GeneratedTokenCount);
        Assert.Equal(Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length, whole.PromptTokenCount);
    }

    [Fact]
    public async Task Top_k_one_equals_greedy_even_at_high_temperature()
    {
        var greedy = await Model.GenerateAsync("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 40 });
        var topK1 = await Model.GenerateAsync("The cat", new GenerationOptions { Temperature = 1.5f, TopK = 1, Seed = 7, MaxNewTokens = 40 });
        Assert.Equal(greedy.TokenIds, topK1.TokenIds);
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible_and_different_seeds_differ()
    {
        GenerationOptions Options(long seed) => new() { Temperature = 1f, TopP = 0.95f, Seed = seed, MaxNewTokens = 48 };
        var a = await Model.GenerateAsync("Tom had a dog", Options(11));
        var b = await Model.GenerateAsync("Tom had a dog", Options(11));
        var c = await Model.GenerateAsync("Tom had a dog", Options(12));
        Assert.Equal(a.TokenIds, b.TokenIds);
        Assert.NotEqual(a.TokenIds, c.TokenIds);
    }

    [Fact]
    public async Task Eight_concurrent_generations_equal_eight_sequential_ones()
    {
        string[] prompts = ["Once upon a time", "The little dog", "Lily saw a bird", "One day", "Tom was sad", "The sun was hot", "Ben had a ball", "Mom said"];
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 50 };
        var sequential = new List<IReadOnlyList<int>>();
        foreach (var prompt in prompts)
        {
            sequential.Add((await Model.GenerateAsync(prompt, options)).TokenIds);
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => Model.GenerateAsync(p, options))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(sequential[i], concurrent[i].TokenIds);
        }
    }

    [Fact]
    public async Task Cancellation_after_five_tokens_throws_promptly_and_the_model_keeps_working()
    {
        using var cts = new CancellationTokenSource();
        int received = 0;
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 200 };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in Model.GenerateStreamingAsync(LoadedModels.ReferencePrompt, options, cts.Token))
            {
                if (++received == 5)
                {
                    await cts.CancelAsync();
                }
            }
        });

        // Cancellation is checked before every token: not one more token was produced.
        Assert.Equal(5, received);
        var after = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = ReferenceNewTokens });
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + after.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_sequence_spanning_two_tokens_stops_and_is_not_emitted()
    {
        var free = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 40 });

        // Pick a stop string that straddles a token boundary in the free-running output.
        var tokenizer = Model.Tokenizer;
        var pieces = free.TokenIds.Select(id => tokenizer.CreateDetokenizer(false).Append(id).ToString()).ToList();
        int k = pieces.FindIndex(5, p => p.Length >= 2);
        int boundary = string.Concat(pieces.Take(k)).Length;
        string stop = free.Text.Substring(boundary - 1, 3);
        Assert.NotEqual(-1, k);

        var stopped = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 40, StopSequences = [stop] });

        Assert.Equal(GenerationFinishReason.StopSequence, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.DoesNotContain(stop, stopped.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generation_stops_at_the_max_length_with_finish_reason_context_length()
    {
        int[] prompt = Model.Tokenizer.Encode(LoadedModels.ReferencePrompt);
        using var generator = Model.CreateGenerator(prompt, new GenerationOptions { Temperature = 0 });
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        Assert.True(generator.FinishReason is GenerationFinishReason.ContextLength or GenerationFinishReason.EndOfSequence);
        if (generator.FinishReason == GenerationFinishReason.ContextLength)
        {
            Assert.Equal(Model.MaxLength, generator.Tokens.Length);
        }

        await Task.CompletedTask;
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_rejected_with_the_limit_named()
    {
        int[] prompt = Enumerable.Repeat(300, Model.MaxLength).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => Model.CreateGenerator(prompt));
        Assert.Contains($"max length is {Model.MaxLength}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_settings_are_rejected_before_any_work()
    {
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Model.GenerateAsync("x", new GenerationOptions { TopP = 2f }));
        Assert.Equal("TopP", ex.ParamName);
    }
}
