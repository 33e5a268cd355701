using System.Text.Json.Nodes;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// LoRA adapters at run time: LlmKit with an adapter active computes the reference forward over merged weights, without
/// one the base model exactly, keeps each adapter's prefix cache to itself, and agrees with onnxruntime-genai 0.20.0
/// running the same adapter file.
/// </summary>
public sealed class LoraAdapterOracleTests : IDisposable
{
    // Head size 16: the official form's packed q/k/v MatMul and fused rotary, shared KV buffers (OrtIoBinding).
    private static readonly LlamaConfig Config = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);
    private const int Seed = 99;

    // Against the merged-weight reference: the merged weights are rounded to float32 once more and summed in another
    // order (measured up to ~1e-4 in LoraAdapterTests); 3e-4 leaves headroom, the adapters move logits by order 1.
    // Between the two runtimes: the same graph and adapter tensors in the same ONNX Runtime, so 1e-4 as elsewhere.
    private const float ReferenceTolerance = 3e-4f;
    private const float RuntimeTolerance = 1e-4f;

    private static readonly string[] AllModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    private readonly Scratch _temp = new();
    private readonly string _folder = TestModels.SyntheticWithLoraInputs(Config, Seed);
    private readonly SyntheticPeftAdapter _styleA;
    private readonly SyntheticPeftAdapter _styleB;

    public LoraAdapterOracleTests()
    {
        _styleA = SyntheticPeftAdapter.Write(_temp.File("peft-a"), Config, rank: 4, alpha: 8, AllModules, seed: 11);
        _styleB = SyntheticPeftAdapter.Write(_temp.File("peft-b"), Config, rank: 2, alpha: 16, ["q_proj", "v_proj"], seed: 12);
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(_folder, _temp.File("peft-a"), AdapterPath("a")));
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(_folder, _temp.File("peft-b"), AdapterPath("b")));
    }

    public static TheoryData<bool> KvLayouts => new() { true, false };

    [Theory]
    [MemberData(nameof(KvLayouts))]
    public void Each_adapter_computes_the_merged_reference_and_no_adapter_the_base_model(bool sharedKvBuffer)
    {
        string folder = sharedKvBuffer ? _folder : PingPongCopy();
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });
        model.LoadAdapter("a", AdapterPath("a"));
        model.LoadAdapter("b", AdapterPath("b"));
        using var plain = LlmKitRuntime.Load(TestModels.Synthetic(Config, Seed, OnnxGraphForm.OrtGenAI));
        int[] prompt = Prompt(50);
        string checkpoint = TestModels.SyntheticCheckpoint(Config, Seed).Checkpoint;

        Assert.Equal(FirstStepLogits(plain, prompt, null), FirstStepLogits(model, prompt, null)); // rank-0 inputs add exact zeros

        foreach (var (name, peft) in new[] { ("a", _styleA), ("b", _styleB) })
        {
            var reference = new LlamaReference(peft.MergedWeights(checkpoint));
            float[] expected = [];
            for (int pos = 0; pos < prompt.Length; pos++)
            {
                expected = reference.Forward(prompt[pos], pos);
            }

            float diff = LlmKitRuntime.MaxAbsDifference(expected, FirstStepLogits(model, prompt, name));
            Assert.True(diff <= ReferenceTolerance, $"adapter {name} (shared KV {sharedKvBuffer}): vs merged reference max |diff| {diff}");
        }
    }

    [Fact]
    public void Alternating_adapters_with_prefix_reuse_never_share_a_cached_prefix()
    {
        int[] prompt = Prompt(40);
        var expected = new Dictionary<string, int[]>();
        using (var fresh = OnnxGenAIModel.Load(_folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false }))
        {
            fresh.LoadAdapter("a", AdapterPath("a"));
            fresh.LoadAdapter("b", AdapterPath("b"));
            foreach (string name in (string[])["a", "b", "base"])
            {
                expected[name] = Greedy(fresh, prompt, name).Tokens;
            }
        }

        Assert.NotEqual(expected["a"], expected["b"]);
        Assert.NotEqual(expected["a"], expected["base"]);

        using var model = OnnxGenAIModel.Load(_folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = true });
        model.LoadAdapter("a", AdapterPath("a"));
        model.LoadAdapter("b", AdapterPath("b"));

        // Three sequences at once leave three pooled states behind, one per adapter (and one for the base model).
        var first = new[] { "a", "b", "base" }.Select(name => (Name: name, Generator: model.CreateGenerator(prompt, Options(name)))).ToList();
        foreach (var (name, generator) in first)
        {
            using (generator)
            {
                Assert.Equal(0, generator.CachedPromptTokens);
                Assert.Equal(expected[name], Run(generator));
            }
        }

        // Alternating: each request finds its own adapter's prefix (all but the last prompt token), never another's.
        foreach (string name in (string[])["a", "b", "a", "base", "b", "base", "a"])
        {
            using var generator = model.CreateGenerator(prompt, Options(name));
            Assert.Equal(prompt.Length - 1, generator.CachedPromptTokens);
            Assert.Equal(expected[name], Run(generator));
        }
    }

    [Fact]
    public void Onnxruntime_genai_with_the_same_adapter_gives_the_same_logits_and_greedy_ids()
    {
        using var model = LlmKitRuntime.Load(_folder);
        model.LoadAdapter("a", AdapterPath("a"));
        model.LoadAdapter("b", AdapterPath("b"));
        using var official = new OfficialRuntime(_folder);
        official.LoadAdapter(AdapterPath("a"), "a");
        official.LoadAdapter(AdapterPath("b"), "b");
        int[] prompt = Prompt(30);
        int maxLength = prompt.Length + 60;

        foreach (string? name in (string?[])["a", "b", null])
        {
            float diff = LlmKitRuntime.MaxAbsDifference(official.FirstStepLogits(prompt, name), FirstStepLogits(model, prompt, name));
            Assert.True(diff <= RuntimeTolerance, $"adapter {name ?? "none"}: first-step logits max |diff| {diff}");
            Assert.Equal(official.Generate(prompt, maxLength, adapter: name), LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0, Adapter = name }));
        }
    }

    [Fact]
    public void Unknown_adapters_and_mismatched_files_are_refused_with_their_names()
    {
        using var model = LlmKitRuntime.Load(_folder);
        var unknown = Assert.Throws<ArgumentException>(() => model.CreateGenerator(Prompt(5), new GenerationOptions { Adapter = "missing" }));
        Assert.Contains("missing", unknown.Message);

        // An adapter for another shape names the tensor that does not fit.
        var other = new LlamaConfig(Dim: 32, HiddenDim: 80, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 128);
        string otherFolder = TestModels.SyntheticWithLoraInputs(other, Seed);
        SyntheticPeftAdapter.Write(_temp.File("peft-other"), other, rank: 2, alpha: 2, ["q_proj"], seed: 3);
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(otherFolder, _temp.File("peft-other"), AdapterPath("other")));
        var mismatch = Assert.Throws<InvalidDataException>(() => model.LoadAdapter("other", AdapterPath("other")));
        Assert.Contains("q_proj.lora_A", mismatch.Message);

        File.WriteAllBytes(_temp.File("broken.onnx_adapter"), File.ReadAllBytes(AdapterPath("a"))[..200]);
        Assert.Throws<InvalidDataException>(() => model.LoadAdapter("broken", _temp.File("broken.onnx_adapter")));
        Assert.Empty(model.AdapterNames);
    }

    [Fact]
    public void Int4_weights_take_the_same_adapters_in_both_runtimes()
    {
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(Config, Seed);
        string folder = _temp.File("int4-lora");
        Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, folder) { Precision = WeightPrecision.Int4, LoraInputs = true });
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(folder, _temp.File("peft-a"), AdapterPath("a-int4")));
        int[] prompt = Prompt(30);

        using var model = LlmKitRuntime.Load(folder);
        using (var plain = LlmKitRuntime.Load(TestModels.Folder(checkpoint, tokenizer, OnnxGraphForm.OrtGenAI, WeightPrecision.Int4)))
        {
            Assert.Equal(FirstStepLogits(plain, prompt, null), FirstStepLogits(model, prompt, null));
        }

        model.LoadAdapter("a", AdapterPath("a-int4"));
        using var official = new OfficialRuntime(folder);
        official.LoadAdapter(AdapterPath("a-int4"), "a");
        float[] adapted = FirstStepLogits(model, prompt, "a");
        Assert.True(LlmKitRuntime.MaxAbsDifference(adapted, FirstStepLogits(model, prompt, null)) > 100 * RuntimeTolerance, "the adapter changes the int4 model's logits");
        float diff = LlmKitRuntime.MaxAbsDifference(official.FirstStepLogits(prompt, "a"), adapted);
        Assert.True(diff <= RuntimeTolerance, $"int4 + adapter: first-step logits max |diff| {diff}");
        int maxLength = prompt.Length + 40;
        Assert.Equal(official.Generate(prompt, maxLength, adapter: "a"), LlmKitRuntime.Generate(model, prompt, maxLength, new GenerationOptions { Temperature = 0, Adapter = "a" }));
    }

    [Fact]
    public async Task Chat_clients_and_kernel_services_select_the_adapter_by_name()
    {
        using var model = LlmKitRuntime.Load(_folder);
        model.LoadAdapter("a", AdapterPath("a"));
        using var chat = new LlmKit.Chat.OnnxChatClient(model);
        var service = new LlmKit.Chat.OnnxGenAIChatCompletionService(chat);
        ChatMessage[] messages = [new(ChatRole.User, "the cat sat on the mat")];

        async Task<string> ViaChatClient(string? adapter)
        {
            var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 20 };
            if (adapter is not null)
            {
                options.AdditionalProperties = new AdditionalPropertiesDictionary { ["adapter"] = adapter };
            }

            return (await chat.GetResponseAsync(messages, options)).Text;
        }

        string withA = await ViaChatClient("a");
        string plain = await ViaChatClient(null);
        Assert.NotEqual(plain, withA);

        // SK: the snake_case "adapter" setting, as a prompt template's execution settings would carry it.
        var settings = new Microsoft.SemanticKernel.PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["adapter"] = "a", ["temperature"] = 0, ["max_tokens"] = 20 } };
        var history = new Microsoft.SemanticKernel.ChatCompletion.ChatHistory();
        history.AddUserMessage("the cat sat on the mat");
        var reply = (await service.GetChatMessageContentsAsync(history, settings))[0];
        Assert.Equal(withA, reply.Content);

        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => ViaChatClient("nope"));
        Assert.Contains("nope", unknown.Message);
    }

    [Fact]
    public void Hosting_loads_the_configured_adapters_and_names_a_bad_one()
    {
        IConfiguration Configuration(string adapterPath) => new ConfigurationBuilder().AddInMemoryCollection(
        [
            new("LlmKit:ModelPath", _folder),
            new("LlmKit:IntraOpThreads", "1"),
            new("LlmKit:Adapters:tales", adapterPath),
        ]).Build();

        using (var provider = new ServiceCollection().AddLlmKit(Configuration(AdapterPath("a")).GetSection("LlmKit")).BuildServiceProvider())
        {
            Assert.Equal(["tales"], provider.GetRequiredService<OnnxGenAIModel>().AdapterNames);
        }

        using var broken = new ServiceCollection().AddLlmKit(Configuration(_temp.File("absent.onnx_adapter")).GetSection("LlmKit")).BuildServiceProvider();
        var e = Assert.Throws<InvalidOperationException>(() => broken.GetRequiredService<OnnxGenAIModel>());
        Assert.Contains("LlmKit:Adapters:tales", e.Message);
    }

    public void Dispose() => _temp.Dispose();

    private string AdapterPath(string name) => _temp.File($"{name}.onnx_adapter");

    private static int[] Prompt(int length)
    {
        var random = new Random(length);
        return [.. Enumerable.Range(0, length).Select(_ => random.Next(3, Config.VocabSize))];
    }

    private static GenerationOptions Options(string name) => new() { Temperature = 0, MaxNewTokens = 30, Adapter = name == "base" ? null : name };

    private static (int[] Tokens, int Cached) Greedy(OnnxGenAIModel model, int[] prompt, string name)
    {
        using var generator = model.CreateGenerator(prompt, Options(name));
        return (Run(generator), generator.CachedPromptTokens);
    }

    private static int[] Run(LlmKit.Generation.Generator generator)
    {
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        return generator.Tokens.ToArray();
    }

    private static float[] FirstStepLogits(OnnxGenAIModel model, int[] prompt, string? adapter)
    {
        var state = model.RentState(prompt, model.AdapterFor(new GenerationOptions { Adapter = adapter }));
        try
        {
            var logits = state.Append(prompt, CancellationToken.None);
            return logits[^model.VocabularySize..].ToArray();
        }
        finally
        {
            state.Truncate(0);
            model.ReturnState(state);
        }
    }

    /// <summary>A copy of the LoRA folder with past_present_share_buffer off, so LlmKit runs it with ping-pong KV buffers.</summary>
    private string PingPongCopy()
    {
        string copy = _temp.File("ping-pong");
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(_folder))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        string configPath = Path.Combine(copy, "genai_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["search"]!["past_present_share_buffer"] = false;
        File.WriteAllText(configPath, config.ToJsonString());
        return copy;
    }

    /// <summary>A unique scratch folder for this test class's PEFT folders and adapter files, deleted on dispose.</summary>
    private sealed class Scratch : IDisposable
    {
        private readonly string _path = Path.Combine(Path.GetTempPath(), "llmkit-tests", "scratch", Guid.NewGuid().ToString("N"));

        public Scratch() => Directory.CreateDirectory(_path);

        public string File(string name) => Path.Combine(_path, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(_path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
