using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tests.Generation.Constraints;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Chat;

/// <summary>A nested record with a recursive member, an enum, a list, a nullable and a date: what users pass to GetResponseAsync&lt;T&gt;.</summary>
public sealed record PetCard(string Name, int Age, PetKind Kind, List<string> Tags, double? Weight, PetOwner Owner, DateTime Adopted);

/// <summary>Recursive: an owner may name a friend.</summary>
public sealed record PetOwner(string First, PetOwner? Friend);

/// <summary>An enum (M.E.AI writes enums as strings).</summary>
public enum PetKind
{
    /// <summary>A cat.</summary>
    Cat,

    /// <summary>A dog.</summary>
    Dog,
}

/// <summary>Structured output through M.E.AI (ResponseFormat, GetResponseAsync&lt;T&gt;) and SK (response_format) on stories260K.</summary>
public class StructuredOutputTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    [Fact]
    public async Task GetResponseAsync_of_T_returns_a_parsed_T_that_validates_for_every_prompt()
    {
        IChatClient client = new OnnxChatClient(Model);
        Validator? validator = null;
        var capture = new CapturingClient(client, format => validator ??= Validator.FromText(((ChatResponseFormatJson)format!).Schema!.Value.GetRawText()));
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var response = await capture.GetResponseAsync<PetCard>(prompt, new ChatOptions { Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 400 });
            Assert.True(response.TryGetResult(out var card), $"not a PetCard: {response.Text}");
            Assert.NotNull(card!.Owner);
            AssertValid(validator!, response.Text);
            Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        }
    }

    [Fact]
    public async Task GetResponseAsync_of_a_primitive_uses_the_wrapped_schema()
    {
        IChatClient client = new OnnxChatClient(Model);
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            // An array is not an object: M.E.AI wraps it as {"data": [...]} and unwraps the result.
            var response = await client.GetResponseAsync<PetKind[]>(prompt, new ChatOptions { Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 60 });
            Assert.True(response.TryGetResult(out var kinds), $"not a PetKind[]: {response.Text}");
            Assert.StartsWith("{\"data\":", response.Text.TrimStart(), StringComparison.Ordinal);
            Assert.NotNull(kinds);

            // Unbounded schema integers stay within +-999,999,999, so an int[] always deserializes.
            var numbers = await client.GetResponseAsync<int[]>(prompt, new ChatOptions { Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 60 });
            Assert.True(numbers.TryGetResult(out var ints), $"not an int[]: {numbers.Text}");
            Assert.NotNull(ints);
        }
    }

    [Fact]
    public async Task ResponseFormat_Json_gives_parseable_json()
    {
        IChatClient client = new OnnxChatClient(Model);
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var response = await client.GetResponseAsync(prompt, new ChatOptions { Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 40, ResponseFormat = ChatResponseFormat.Json });
            using var _ = JsonDocument.Parse(response.Text);
        }
    }

    [Fact]
    public async Task SK_response_format_json_schema_validates_for_every_prompt()
    {
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<IChatCompletionService>(new OnnxGenAIChatCompletionService(Model));
        var kernel = builder.Build();
        var validator = Validator.FromText(JsonSchemaConstraintTests.NestedSchema);
        using var schema = JsonDocument.Parse(JsonSchemaConstraintTests.NestedSchema);
        var wrapped = JsonSerializer.SerializeToElement(new { type = "json_schema", json_schema = new { name = "pet", schema = schema.RootElement, strict = true } });
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var settings = new OnnxGenAIPromptExecutionSettings { Temperature = 1f, Seed = prompt.Length, MaxTokens = 200, ResponseFormat = wrapped };
            var result = await kernel.InvokePromptAsync(prompt, new KernelArguments(settings));
            AssertValid(validator, result.GetValue<string>()!);
        }
    }

    [Fact]
    public async Task SK_response_format_type_and_json_object_through_prompt_settings()
    {
        var service = new OnnxGenAIChatCompletionService(Model);
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var history = new ChatHistory();
            history.AddUserMessage(prompt);
            var typed = await service.GetChatMessageContentAsync(history, new OnnxGenAIPromptExecutionSettings { Temperature = 1f, Seed = prompt.Length, MaxTokens = 400, ResponseFormat = typeof(PetCard) });
            var card = JsonSerializer.Deserialize<PetCard>(typed.Content!, AIJsonUtilities.DefaultOptions);
            Assert.NotNull(card?.Owner);

            // As a prompt template would set it: snake_case extension data on plain PromptExecutionSettings.
            var plain = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["response_format"] = "json_object", ["max_tokens"] = 40, ["temperature"] = 1, ["seed"] = prompt.Length } };
            var json = await service.GetChatMessageContentAsync(history, plain);
            using var _ = JsonDocument.Parse(json.Content!);
        }
    }

    [Fact]
    public async Task Regex_and_choice_through_MEAI_always_match()
    {
        IChatClient client = new OnnxChatClient(Model);
        string[] options = ["happy", "sad", "very angry"];
        var choice = OutputConstraint.Choice(options);
        var code = OutputConstraint.Regex(@"[a-z]{3,6}-\d{2}");
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var chosen = await client.GetResponseAsync(prompt, new ChatOptions
            {
                Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 20,
                AdditionalProperties = new() { [ChatOptionsMapper.OutputConstraintKey] = choice },
            });
            Assert.Contains(chosen.Text, options);
            Assert.Equal(ChatFinishReason.Stop, chosen.FinishReason);

            var matched = await client.GetResponseAsync(prompt, new ChatOptions
            {
                Temperature = 1f, Seed = prompt.Length, MaxOutputTokens = 20,
                AdditionalProperties = new() { [ChatOptionsMapper.OutputConstraintKey] = code },
            });
            Assert.Matches(new Regex(@"^(?:[a-z]{3,6}-\d{2})$"), matched.Text);
        }
    }

    [Fact]
    public async Task Regex_and_choice_through_SK_response_format_always_match()
    {
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<IChatCompletionService>(new OnnxGenAIChatCompletionService(Model));
        var kernel = builder.Build();
        string[] options = ["red", "green", "dark blue"];
        var choice = OutputConstraint.Choice(options);
        var date = OutputConstraint.Regex(@"(19|20)\d\d-(0[1-9]|1[0-2])-[0-2]\d");
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var chosen = await kernel.InvokePromptAsync(prompt, new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 1f, Seed = prompt.Length, MaxTokens = 20, ResponseFormat = choice }));
            Assert.Contains(chosen.GetValue<string>(), options);

            var matched = await kernel.InvokePromptAsync(prompt, new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 1f, Seed = prompt.Length, MaxTokens = 20, ResponseFormat = date }));
            Assert.Matches(new Regex(@"^(?:(19|20)\d\d-(0[1-9]|1[0-2])-[0-2]\d)$"), matched.GetValue<string>()!);
        }
    }

    [Fact]
    public async Task An_output_constraint_beside_a_json_response_format_is_refused()
    {
        IChatClient client = new OnnxChatClient(Model);
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.Json, AdditionalProperties = new() { [ChatOptionsMapper.OutputConstraintKey] = OutputConstraint.Json() } };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync("The cat", options));
        Assert.Contains(ChatOptionsMapper.OutputConstraintKey, e.Message);
    }

    private static void AssertValid(Validator validator, string text)
    {
        var evaluation = validator.Evaluate(JsonNode.Parse(text), new Json.Schema.EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });
        Assert.True(evaluation.IsValid, $"'{text}' is not valid: {string.Join("; ", evaluation.Details.Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Values))}");
    }

    /// <summary>Passes requests through and hands the response format M.E.AI built to a callback (to validate against the very schema it sent).</summary>
    private sealed class CapturingClient(IChatClient inner, Action<ChatResponseFormat?> seen) : DelegatingChatClient(inner)
    {
        public override Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            seen(options?.ResponseFormat);
            return base.GetResponseAsync(messages, options, cancellationToken);
        }
    }
}
