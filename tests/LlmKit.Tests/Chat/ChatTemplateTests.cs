using LlmKit.Chat.Templates;
using LlmKit.Testing;
using LlmKit.Tokenization;

namespace LlmKit.Tests.Chat;

/// <summary>
/// Each built-in template against the string its family's PUBLISHED Hugging Face chat_template renders for one
/// conversation (rendered by hand from the Jinja quoted in each comment, with add_generation_prompt=true and
/// Hugging Face's trim_blocks/lstrip_blocks). The assistant turn carries spaces around it so the families that
/// trim (| trim, .strip()) and those that do not are both checked.
/// </summary>
public class ChatTemplateTests
{
    private static readonly ChatTemplateMessage System = new(ChatTemplateRole.System, "You are a helpful assistant");
    private static readonly ChatTemplateMessage Hello = new(ChatTemplateRole.User, "Hello");
    private static readonly ChatTemplateMessage HiThere = new(ChatTemplateRole.Assistant, " Hi there ");
    private static readonly ChatTemplateMessage WhoAreYou = new(ChatTemplateRole.User, "Who are you");

    private static ChatTemplateMessage[] WithSystem => [System, Hello, HiThere, WhoAreYou];

    private static ChatTemplateMessage[] WithoutSystem => [Hello, HiThere, WhoAreYou];

    [Fact]
    public void ChatML_follows_the_OpenHermes_and_Qwen_template()
    {
        // teknium/OpenHermes-2.5-Mistral-7B: {% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']
        // + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
        var prompt = new ChatMLTemplate().Render(WithSystem);
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n" +
            "<|im_start|>assistant\n Hi there <|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n",
            prompt.Text);
        Assert.Null(prompt.AddBos);
    }

    [Fact]
    public void Llama2_follows_the_Llama_2_chat_template()
    {
        // meta-llama/Llama-2-7b-chat-hf: system message taken out of the loop; first user content becomes
        // '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + content; user: bos_token + '[INST] ' + content.strip() + ' [/INST]';
        // assistant: ' ' + content.strip() + ' ' + eos_token; roles must alternate (raise_exception otherwise).
        var prompt = new Llama2ChatTemplate().Render(WithSystem);
        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are you [/INST]",
            prompt.Text);
        Assert.False(prompt.AddBos);
    }

    [Fact]
    public void Llama3_follows_the_Llama_3_instruct_template()
    {
        // meta-llama/Meta-Llama-3-8B-Instruct: {% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'
        // + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}
        // {{ content }} ... {% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}
        var prompt = new Llama3ChatTemplate().Render(WithSystem);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            prompt.Text);
        Assert.False(prompt.AddBos);
    }

    [Fact]
    public void Phi3_follows_the_Phi_3_mini_instruct_template()
    {
        // microsoft/Phi-3-mini-4k-instruct: {% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}
        // {% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}
        // {{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %} ... {% if add_generation_prompt %}{{ '<|assistant|>\n' }}
        var prompt = new Phi3ChatTemplate().Render(WithSystem);
        Assert.Equal(
            "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n Hi there <|end|>\n" +
            "<|user|>\nWho are you<|end|>\n<|assistant|>\n",
            prompt.Text);
        Assert.Null(prompt.AddBos);
    }

    [Fact]
    public void Mistral_follows_the_Mistral_7B_Instruct_v02_template()
    {
        // mistralai/Mistral-7B-Instruct-v0.2: {{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}
        // {{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}
        // (no system role in that template; no trimming)
        var prompt = new MistralChatTemplate().Render(WithoutSystem);
        Assert.Equal("<s>[INST] Hello [/INST] Hi there </s>[INST] Who are you [/INST]", prompt.Text);
        Assert.False(prompt.AddBos);
    }

    [Fact]
    public void Gemma_follows_the_Gemma_2_instruct_template()
    {
        // google/gemma-2-2b-it: {{ bos_token }} ... {% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}
        // {% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}
        // ... {% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}
        var prompt = new GemmaChatTemplate().Render(WithoutSystem);
        Assert.Equal(
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n" +
            "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n",
            prompt.Text);
        Assert.False(prompt.AddBos);
    }

    [Fact]
    public void Zephyr_follows_the_zephyr_7b_beta_template()
    {
        // HuggingFaceH4/zephyr-7b-beta (trim_blocks on, so only the newline after each {{ ... }} survives):
        // {{ '<|user|>\n' + message['content'] + eos_token }}\n ... {{ '<|system|>\n' + message['content'] + eos_token }}\n ...
        // {{ '<|assistant|>\n'  + message['content'] + eos_token }}\n ... {% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}\n
        var prompt = new ZephyrChatTemplate().Render(WithSystem);
        Assert.Equal(
            "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\n Hi there </s>\n" +
            "<|user|>\nWho are you</s>\n<|assistant|>\n",
            prompt.Text);
        Assert.Null(prompt.AddBos);
    }

    [Fact]
    public void None_passes_a_single_message_through_unchanged()
    {
        var prompt = new PlainTextTemplate().Render([new ChatTemplateMessage(ChatTemplateRole.User, "Once upon a time")]);
        Assert.Equal("Once upon a time", prompt.Text);
        Assert.Null(prompt.AddBos);
        Assert.Equal("A\nB", new PlainTextTemplate().Render([new(ChatTemplateRole.System, "A"), new(ChatTemplateRole.User, "B")]).Text);
    }

    [Theory]
    [InlineData(ChatTemplateKind.Mistral, "<s>[INST] You are a helpful assistant\n\nHello [/INST]")]
    [InlineData(ChatTemplateKind.Gemma, "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\n")]
    public void Families_without_a_system_role_put_the_system_text_before_the_first_user_message(ChatTemplateKind kind, string expected)
    {
        // Our documented rule for these two (their v0.2 / Gemma 2 templates raise instead): system + blank line + user text,
        // the layout of Mistral's v0.3 template and google/gemma-3's first_user_prefix.
        Assert.Equal(expected, ChatTemplates.Create(kind).Render([System, Hello]).Text);
    }

    [Theory]
    [InlineData(ChatTemplateKind.Llama2)]
    [InlineData(ChatTemplateKind.Mistral)]
    [InlineData(ChatTemplateKind.Gemma)]
    public void Families_that_require_alternating_roles_reject_two_user_turns_in_a_row(ChatTemplateKind kind)
    {
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplates.Create(kind).Render([Hello, WhoAreYou]));
        Assert.Contains("alternate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_template_rejects_an_empty_conversation()
    {
        foreach (var kind in Enum.GetValues<ChatTemplateKind>().Where(k => k is not ChatTemplateKind.Auto and not ChatTemplateKind.Folder))
        {
            Assert.Throws<ArgumentException>(() => ChatTemplates.Create(kind).Render([]));
        }

        Assert.Throws<ArgumentException>(() => new JinjaChatTemplate("{{ messages[0].content }}").Render([]));
    }

    [Theory]
    [InlineData(ChatTemplateKind.Auto)]
    [InlineData(ChatTemplateKind.Folder)]
    public void Auto_and_Folder_cannot_be_created_without_a_model_folder(ChatTemplateKind kind)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ChatTemplates.Create(kind));
        Assert.Equal("kind", ex.ParamName);
    }

    [Theory]
    [InlineData("{% for message in messages %}{{'<|im_start|>' + message['role'] }}{% endfor %}", "qwen2", ChatTemplateKind.ChatML)]
    [InlineData("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}", "llama", ChatTemplateKind.Llama3)]
    [InlineData("{{ '<start_of_turn>' + role }}", "gemma2", ChatTemplateKind.Gemma)]
    [InlineData("{{'<|user|>\n' + message['content'] + '<|end|>\n'}}", "phi3", ChatTemplateKind.Phi3)]
    [InlineData("{{ '<|user|>\n' + message['content'] + eos_token }}", "mistral", ChatTemplateKind.Zephyr)]
    [InlineData("{% set content = '<<SYS>>\\n' + system_message %}{{ bos_token + '[INST] ' + content }}", "llama", ChatTemplateKind.Llama2)]
    [InlineData("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}", "mistral", ChatTemplateKind.Mistral)]
    [InlineData("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}", "llama", ChatTemplateKind.Mistral)]
    public void Detection_recognises_each_family_by_its_markers(string template, string modelType, ChatTemplateKind expected)
    {
        Assert.Equal(expected, ChatTemplates.Detect(new TokenizerConfig { ChatTemplate = template }, modelType));
    }

    [Theory]
    [InlineData("llama", ChatTemplateKind.None)]
    [InlineData("mistral", ChatTemplateKind.None)]
    [InlineData("phi3", ChatTemplateKind.Phi3)]
    [InlineData("qwen2", ChatTemplateKind.ChatML)]
    [InlineData("gemma2", ChatTemplateKind.Gemma)]
    public void Without_a_chat_template_the_model_type_decides_and_base_architectures_get_None(string modelType, ChatTemplateKind expected)
    {
        Assert.Equal(expected, ChatTemplates.Detect(new TokenizerConfig(), modelType));
    }

    [Fact]
    public void An_unrecognised_template_is_an_error_naming_the_option_to_set()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplates.Detect(new TokenizerConfig { ChatTemplate = "{{ 'USER: ' + message['content'] }}" }, "falcon"));
        Assert.Contains("LlmKitOptions.ChatTemplate", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--template", ex.Message, StringComparison.Ordinal);
        Assert.Contains("falcon", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stories260K_is_recognised_as_a_base_model()
    {
        Assert.Equal(ChatTemplateKind.None, ChatTemplates.Resolve(LoadedModels.Stories260K).Kind);
        Assert.Equal(ChatTemplateKind.Llama2, ChatTemplates.Resolve(LoadedModels.Stories260K, ChatTemplateKind.Llama2).Kind);
    }

    [Fact]
    public void A_leading_BOS_text_is_encoded_as_the_BOS_id_not_as_characters()
    {
        var tokenizer = LoadedModels.Stories260K.Tokenizer;
        var prompt = new Llama2ChatTemplate().Render([Hello]);
        int[] ids = ChatPromptEncoder.Encode(tokenizer, prompt);

        Assert.Equal(tokenizer.BosTokenId, ids[0]);
        Assert.Equal(tokenizer.Encode("[INST] Hello [/INST]", addBos: false), ids[1..]);
        Assert.Equal(tokenizer.Encode("Once upon a time"), ChatPromptEncoder.Encode(tokenizer, new ChatPrompt("Once upon a time", null)));
    }
}
