using System.Text;
using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.Services;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.Tests.Chat;

/// <summary>The Semantic Kernel chat/text service on the real stories260K model, through a real Kernel.</summary>
public class SemanticKernelServiceTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    private static int ReferenceNewTokens => LoadedModels.ReferenceSteps - Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;

    private static Kernel KernelWith(OnnxGenAIChatCompletionService service)
    {
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<IChatCompletionService>(service);
        return builder.Build();
    }

    [Fact]
    public async Task InvokePromptAsync_greedy_equals_the_runtime_output_and_the_reference_text()
    {
        var kernel = KernelWith(new OnnxGenAIChatCompletionService(Model));
        var direct = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = ReferenceNewTokens });

        var result = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt,
            new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = ReferenceNewTokens }));

        string text = result.GetValue<string>()!;
        Assert.Equal(direct.Text, text);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_prompt_template_config_sets_snake_case_settings_that_reach_the_model()
    {
        // The JSON form of a prompt function (what YAML/JSON prompt files hold): generic settings, snake_case names.
        string json = $$$"""
            {
              "name": "story",
              "template": "{{$start}}",
              "execution_settings": { "default": { "temperature": 0, "max_tokens": {{{ReferenceNewTokens}}}, "top_k": 50, "num_beams": 1, "do_sample": false } }
            }
            """;
        var kernel = KernelWith(new OnnxGenAIChatCompletionService(Model));
        var function = kernel.CreateFunctionFromPrompt(PromptTemplateConfig.FromJson(json));

        var result = await kernel.InvokeAsync(function, new KernelArguments { ["start"] = LoadedModels.ReferencePrompt });

        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + result.GetValue<string>(), StringComparison.Ordinal);
        var metadata = result.GetValue<ChatMessageContent>()!.Metadata!;
        Assert.Equal(ReferenceNewTokens, metadata["OutputTokenCount"]);
    }

    [Fact]
    public async Task A_chat_prompt_with_roles_is_rendered_through_the_chat_template()
    {
        // SK parses <message role=...> tags into a ChatHistory; the service renders it with the Llama 2 template, so the
        // answer must equal a direct generation from the template's text.
        var kernel = KernelWith(new OnnxGenAIChatCompletionService(Model, new OnnxChatClientOptions { ChatTemplate = LlmKit.Chat.Templates.ChatTemplateKind.Llama2 }));
        var result = await kernel.InvokePromptAsync("<message role=\"system\">Be kind.</message><message role=\"user\">Tell a story</message>",
            new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = 20 }));

        int[] ids = [Model.Tokenizer.BosTokenId, .. Model.Tokenizer.Encode("[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nTell a story [/INST]", addBos: false)];
        var direct = await Model.GenerateAsync(ids, new GenerationOptions { Temperature = 0, MaxNewTokens = 20 });
        Assert.Equal(direct.Text, result.GetValue<string>());
        Assert.Equal(ids.Length, result.GetValue<ChatMessageContent>()!.Metadata!["InputTokenCount"]);
    }

    [Fact]
    public async Task Streaming_chat_concatenated_equals_non_streaming_and_reports_length()
    {
        var service = new OnnxGenAIChatCompletionService(Model);
        var history = new ChatHistory();
        history.AddUserMessage(LoadedModels.ReferencePrompt);
        var settings = new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = 50 };

        var whole = (await service.GetChatMessageContentsAsync(history, settings)).Single();
        var text = new StringBuilder();
        StreamingChatMessageContent? last = null;
        await foreach (var chunk in service.GetStreamingChatMessageContentsAsync(history, settings))
        {
            text.Append(chunk.Content);
            last = chunk;
        }

        Assert.Equal(whole.Content, text.ToString());
        Assert.Equal(AuthorRole.Assistant, whole.Role);
        Assert.Equal("Length", whole.Metadata!["FinishReason"]);
        Assert.Equal(50, whole.Metadata["OutputTokenCount"]);
        Assert.Equal(Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length, whole.Metadata["InputTokenCount"]);
        Assert.Equal("Length", last!.Metadata!["FinishReason"]);
        Assert.Equal(Model.ModelId, AIServiceExtensions.GetModelId(service));
    }

    [Fact]
    public async Task Text_generation_streams_the_same_text_as_the_runtime()
    {
        ITextGenerationService service = new OnnxGenAIChatCompletionService(Model);
        var settings = new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = 45 };
        var direct = await Model.GenerateAsync("The little dog", new GenerationOptions { Temperature = 0, MaxNewTokens = 45 });

        var whole = (await service.GetTextContentsAsync("The little dog", settings)).Single();
        var streamed = new StringBuilder();
        await foreach (var chunk in service.GetStreamingTextContentsAsync("The little dog", settings))
        {
            streamed.Append(chunk.Text);
        }

        Assert.Equal(direct.Text, whole.Text);
        Assert.Equal(direct.Text, streamed.ToString());
    }

    [Fact]
    public async Task Unsupported_settings_fail_with_the_setting_named_instead_of_being_dropped()
    {
        var service = new OnnxGenAIChatCompletionService(Model);
        var history = new ChatHistory();
        history.AddUserMessage("x");

        var beams = await Assert.ThrowsAsync<NotSupportedException>(() => service.GetChatMessageContentsAsync(history, new OnnxGenAIPromptExecutionSettings { NumBeams = 2, NumReturnSequences = 3 }));
        Assert.Contains("num_return_sequences", beams.Message, StringComparison.Ordinal);

        var unknown = await Assert.ThrowsAsync<NotSupportedException>(() => service.GetChatMessageContentsAsync(history,
            new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["logit_bias"] = 3 } }));
        Assert.Contains("'logit_bias'", unknown.Message, StringComparison.Ordinal);

        var range = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => service.GetChatMessageContentsAsync(history,
            new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["top_p"] = 1.5 } }));
        Assert.Equal("top_p", range.ParamName);
    }

    [Fact]
    public async Task Beam_search_settings_return_num_return_sequences_messages_best_first()
    {
        var service = new OnnxGenAIChatCompletionService(Model);
        var history = new ChatHistory();
        history.AddUserMessage("Tell a story");
        var settings = new OnnxGenAIPromptExecutionSettings { NumBeams = 3, NumReturnSequences = 2, MaxTokens = 20, LengthPenalty = 1f, EarlyStopping = true };

        var replies = await service.GetChatMessageContentsAsync(history, settings);

        Assert.Equal(2, replies.Count);
        var result = Assert.IsType<LlmKit.Generation.GenerationResult>(replies[0].InnerContent);
        Assert.Equal(result.Sequences.Select(s => s.Text), replies.Select(r => r.Content));
        Assert.True(result.Sequences[0].Score >= result.Sequences[1].Score);
        Assert.NotEqual(result.Sequences[0].TokenIds, result.Sequences[1].TokenIds);
    }
}
