using System.ComponentModel;
using System.Text.Json.Nodes;
using LlmKit.Chat;
using LlmKit.Chat.Tools;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tests.Generation.Constraints;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// Semantic Kernel function calling on the real stories260K model: FunctionChoiceBehavior.Required with auto-invocation
/// runs the kernel function (through the kernel's auto-function-invocation filters) with arguments valid against its
/// schema, adds the call and result to the history, and the next request answers in text.
/// </summary>
public class KernelFunctionCallingTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    [Fact]
    public async Task Required_auto_invocation_runs_the_kernel_function_with_valid_arguments_then_answers_in_text()
    {
        var (kernel, plugin, filter, service) = Setup();
        var function = kernel.Plugins["weather"]["get_forecast"];
        var schema = Validator.FromText(function.JsonSchema.GetRawText());

        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var history = new ChatHistory();
            history.AddUserMessage(prompt);
            int before = plugin.Calls;
            var settings = new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(), Temperature = 1f, Seed = prompt.Length + 7, MaxTokens = 100 };

            var reply = await service.GetChatMessageContentAsync(history, settings, kernel);

            // user, assistant call, tool result (the service adds the round to the caller's history, as SK's connectors do).
            Assert.True(plugin.Calls > before, $"the kernel function was not invoked for '{prompt}'");
            var callMessage = history[1];
            var call = Assert.Single(callMessage.Items.OfType<FunctionCallContent>());
            Assert.Equal(("weather", "get_forecast"), (call.PluginName, call.FunctionName));
            var result = Assert.Single(history[2].Items.OfType<FunctionResultContent>());
            Assert.Equal(AuthorRole.Tool, history[2].Role);
            Assert.Equal(call.Id, result.CallId);
            Assert.Equal("Sunny", result.Result);

            // The arguments the model wrote validate against the kernel function's own schema.
            string generated = ((GenerationResult)callMessage.InnerContent!).Text;
            string arguments = Assert.Single(ToolCallFormats.Generic.Parse(generated).Calls).ArgumentsJson;
            Assert.True(schema.Evaluate(JsonNode.Parse(arguments)).IsValid, $"arguments {arguments} for '{prompt}' do not validate");

            Assert.Equal(AuthorRole.Assistant, reply.Role);
            Assert.Empty(reply.Items.OfType<FunctionCallContent>());
            Assert.False(string.IsNullOrWhiteSpace(reply.Content), $"no text answer for '{prompt}'");
        }

        Assert.Equal(plugin.Calls, filter.Seen);
    }

    [Fact]
    public async Task With_a_response_format_the_required_call_runs_and_the_answer_after_it_is_json()
    {
        var (kernel, plugin, _, service) = Setup();
        foreach (string prompt in ConstrainedGenerationTests.Prompts.Take(6))
        {
            var history = new ChatHistory();
            history.AddUserMessage(prompt);
            int before = plugin.Calls;
            var settings = new OnnxGenAIPromptExecutionSettings
            {
                FunctionChoiceBehavior = FunctionChoiceBehavior.Required(),
                ResponseFormat = "json_object",
                Temperature = 1f,
                Seed = prompt.Length + 3,
                MaxTokens = 100,
            };

            var reply = await service.GetChatMessageContentAsync(history, settings, kernel);

            // The required round calls (the format is for answers); the answer after the result is JSON ("json_object"
            // is any JSON value here, as M.E.AI's ChatResponseFormat.Json).
            Assert.True(plugin.Calls > before, $"the kernel function was not invoked for '{prompt}'");
            Assert.Empty(reply.Items.OfType<FunctionCallContent>());
            var parsed = System.Text.Json.JsonDocument.Parse(reply.Content!);
            Assert.NotEqual(System.Text.Json.JsonValueKind.Undefined, parsed.RootElement.ValueKind);
        }
    }

    [Fact]
    public async Task Without_auto_invocation_the_calls_come_back_as_FunctionCallContent_and_nothing_runs()
    {
        var (kernel, plugin, _, service) = Setup();
        var history = new ChatHistory();
        history.AddUserMessage("Once upon a time");
        var settings = new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(autoInvoke: false), Temperature = 0, MaxTokens = 100 };

        var reply = await service.GetChatMessageContentAsync(history, settings, kernel);

        var call = Assert.Single(reply.Items.OfType<FunctionCallContent>());
        Assert.Equal("get_forecast", call.FunctionName);
        Assert.Equal("ToolCalls", reply.Metadata!["FinishReason"]);
        Assert.Single(history);
        Assert.Equal(0, plugin.Calls);

        // The caller invokes it and sends the result back: the model then answers (Auto after the first request).
        var result = await call.InvokeAsync(kernel);
        history.Add(reply);
        history.Add(result.ToChatMessage());
        var answer = await service.GetChatMessageContentAsync(history, new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.None(), Temperature = 0, MaxTokens = 30 }, kernel);
        Assert.Equal(1, plugin.Calls);
        Assert.False(string.IsNullOrWhiteSpace(answer.Content));
    }

    [Fact]
    public async Task Streaming_auto_invocation_streams_the_final_text_after_running_the_function()
    {
        var (kernel, plugin, filter, service) = Setup();
        var history = new ChatHistory();
        history.AddUserMessage("The cat");
        var settings = new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(), Temperature = 0, MaxTokens = 100 };

        var chunks = new List<StreamingChatMessageContent>();
        await foreach (var chunk in service.GetStreamingChatMessageContentsAsync(history, settings, kernel))
        {
            chunks.Add(chunk);
        }

        Assert.Equal(1, plugin.Calls);
        Assert.Equal(1, filter.Seen);
        Assert.Single(chunks.SelectMany(c => c.Items).OfType<StreamingFunctionCallUpdateContent>());
        Assert.Equal("ToolCalls", chunks.First(c => c.Items.OfType<StreamingFunctionCallUpdateContent>().Any()).Metadata!["FinishReason"]);
        Assert.False(string.IsNullOrWhiteSpace(string.Concat(chunks.Select(c => c.Content))));
        Assert.Equal([AuthorRole.User, AuthorRole.Assistant, AuthorRole.Tool], history.Select(m => m.Role));
    }

    [Fact]
    public async Task A_filter_that_terminates_ends_the_loop_with_the_function_result()
    {
        var (kernel, plugin, filter, service) = Setup();
        filter.Terminate = true;
        var history = new ChatHistory();
        history.AddUserMessage("One day");

        var reply = await service.GetChatMessageContentAsync(history,
            new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto(), Temperature = 0, MaxTokens = 100 }, kernel);

        // Auto with the greedy story: the model answers in text, so no function runs and the filter is not reached.
        Assert.Equal(0, plugin.Calls);
        Assert.False(string.IsNullOrWhiteSpace(reply.Content));

        var required = await service.GetChatMessageContentAsync(history,
            new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(), Temperature = 0, MaxTokens = 100 }, kernel);
        Assert.Equal(1, plugin.Calls);
        Assert.Equal(AuthorRole.Tool, required.Role);
        Assert.Equal("Sunny", Assert.Single(required.Items.OfType<FunctionResultContent>()).Result);
    }

    [Fact]
    public async Task Text_generation_refuses_a_function_choice_behavior_instead_of_dropping_it()
    {
        var (kernel, _, _, service) = Setup();

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => service.GetTextContentsAsync("Once upon a time",
            new OnnxGenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() }, kernel));

        Assert.Contains("function_choice_behavior", error.Message, StringComparison.Ordinal);
    }

    private static (Kernel Kernel, WeatherPlugin Plugin, CountingFilter Filter, OnnxGenAIChatCompletionService Service) Setup()
    {
        var service = new OnnxGenAIChatCompletionService(Model);
        var plugin = new WeatherPlugin();
        var filter = new CountingFilter();
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<IChatCompletionService>(service);
        builder.Services.AddSingleton<IAutoFunctionInvocationFilter>(filter);
        builder.Plugins.AddFromObject(plugin, "weather");
        return (builder.Build(), plugin, filter, service);
    }

    public sealed class WeatherPlugin
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        [KernelFunction("get_forecast"), Description("Weather in a city.")]
        public string GetForecast([Description("The city.")] City city, bool tomorrow)
        {
            Interlocked.Increment(ref _calls);
            return "Sunny";
        }
    }

    public enum City
    {
        Paris,
        Oslo,
    }

    private sealed class CountingFilter : IAutoFunctionInvocationFilter
    {
        private int _seen;

        public int Seen => Volatile.Read(ref _seen);

        public bool Terminate { get; set; }

        public async Task OnAutoFunctionInvocationAsync(AutoFunctionInvocationContext context, Func<AutoFunctionInvocationContext, Task> next)
        {
            Interlocked.Increment(ref _seen);
            await next(context);
            context.Terminate = Terminate;
        }
    }
}
